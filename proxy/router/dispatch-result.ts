/**
 * What dispatching one client request did, as a tagged value the compiler checks.
 *
 * - DISPATCHED: the request is answered or under way (its entry is in the session's reply queue).
 * - WaitSlot (waitForSlot(slot)): the slot is locked (migration barrier): hold the pipeline, retry when the
 *   slot's route changes. slotToWait() gives the slot back.
 * - WAIT_IDLE: run this request again once every earlier reply of the client is in (it is about to use a
 *   dedicated connection).
 * - PASS (Dedicated.intercept() only): not handled there, continue the normal dispatch.
 *
 * On the hot path these are plain small integers (a slot, or -1 / -2 / -3): no allocation, and V8 sees
 * the same monomorphic number it always did. The types are opaque brands, so a bare number is not a
 * result, a result is not a slot (slotToWait() says so), and PASS cannot leak out of dispatch
 * (DispatchResult has no Pass).
 */

declare const tag: unique symbol;
/** An opaque result kind: not a number to the compiler, a small integer at run time. */
interface Tagged<K extends string> {
  readonly [tag]: K;
}

export type Dispatched = Tagged<'dispatched'>;
export type WaitSlot = Tagged<'wait-slot'>;
export type WaitIdle = Tagged<'wait-idle'>;
export type Pass = Tagged<'pass'>;

/** The result of Session/Router/Dedicated dispatch. */
export type DispatchResult = Dispatched | WaitSlot | WaitIdle;
/** The result of Dedicated.intercept(): a dispatch result, or PASS. */
export type InterceptResult = DispatchResult | Pass;
/** A request that has to wait before it can run (the session queues it in front of later ones). */
export type Held = WaitSlot | WaitIdle;

export const DISPATCHED = -1 as unknown as Dispatched;
export const WAIT_IDLE = -2 as unknown as WaitIdle;
export const PASS = -3 as unknown as Pass;

/** The request must wait for locked slot `slot` (0..1023). */
export function waitForSlot(slot: number): WaitSlot {
  return slot as unknown as WaitSlot;
}

export function isDispatched(r: InterceptResult): r is Dispatched {
  return r === DISPATCHED;
}

export function isPass(r: InterceptResult): r is Pass {
  return r === PASS;
}

export function isWaitIdle(r: InterceptResult): r is WaitIdle {
  return r === WAIT_IDLE;
}

/** routeFor()-style unions: the locked slot to wait for, or something else (a route, an error reply). */
export function isWaitSlot<T>(r: T | WaitSlot): r is WaitSlot {
  return typeof r === 'number';
}

/** The locked slot a WaitSlot result waits for. */
export function slotToWait(r: WaitSlot): number {
  return r as unknown as number;
}
