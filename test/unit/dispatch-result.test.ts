/**
 * The tagged dispatch result (proxy/router/dispatch-result.ts): distinct values, a slot survives the round
 * trip, and the type rules that make misuse a compile error (checked by `tsc -p test/tsconfig.json`, part
 * of `npm run lint`: every @ts-expect-error below fails the build if the line it marks ever compiles).
 */
import { describe, expect, it } from 'vitest';
import {
  DISPATCHED,
  isDispatched,
  isPass,
  isWaitIdle,
  isWaitSlot,
  PASS,
  slotToWait,
  WAIT_IDLE,
  waitForSlot,
  type DispatchResult,
  type InterceptResult,
} from '../../proxy/router/dispatch-result.js';

describe('dispatch result', () => {
  it('tells DISPATCHED, WAIT_IDLE, PASS and a slot apart, and gives the slot back', () => {
    const results: InterceptResult[] = [DISPATCHED, WAIT_IDLE, PASS, waitForSlot(0), waitForSlot(1023)];
    expect(results.map((r) => [isDispatched(r), isWaitIdle(r), isPass(r)])).toEqual([
      [true, false, false],
      [false, true, false],
      [false, false, true],
      [false, false, false],
      [false, false, false],
    ]);
    const w = waitForSlot(1023);
    expect(isWaitSlot<Buffer>(w)).toBe(true);
    expect(isWaitSlot<Buffer>(Buffer.from('x'))).toBe(false);
    if (isWaitSlot(w)) expect(slotToWait(w)).toBe(1023);
    // No allocation on the hot path: the values are plain small integers at run time.
    expect(typeof (DISPATCHED as unknown)).toBe('number');
  });

  it('is checked by the compiler: no bare numbers, no PASS out of dispatch, no result used as a slot', () => {
    // @ts-expect-error a bare number is not a dispatch result
    const bare: DispatchResult = 5;
    // @ts-expect-error PASS belongs to intercept(), not to dispatch
    const pass: DispatchResult = PASS;
    // @ts-expect-error a result is not a slot: slotToWait() of a WaitSlot is
    const slot: number = waitForSlot(3);
    // @ts-expect-error only a WaitSlot has a slot
    slotToWait(DISPATCHED);
    expect([bare, pass, slot]).toHaveLength(3);
  });
});
