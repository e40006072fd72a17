/**
 * Commands that need a backend connection of their own: transactions (transaction.ts), blocking commands
 * (blocking.ts) and Pub/Sub (pubsub.ts), over the bounded pool of dedicated connections
 * (proxy/backend/dedicated.ts). The session calls in only for commands routed 'transaction' | 'blocking' |
 * 'pubsub' and, while session.mode is non-zero (MULTI open, RESP2 subscribed), for every command first.
 *
 * Topology changes: onRoutesChanged() runs inside SlotTable.apply() with the slots whose route changed.
 * Blocked commands on those slots are woken and re-issued through the normal hold / migrate path;
 * subscriptions move to the slots' new owners. apply() (and so the proxy's ack) waits for the new
 * subscriptions to be confirmed.
 */
import type { Logger } from '../../shared/log.js';
import { encodeError } from '../../shared/resp/encoder.js';
import type { DedicatedPool, DedicatedStats } from '../backend/dedicated.js';
import type { BackendPool, BackendServer } from '../backend/pool.js';
import type { CommandSpec } from '../commands/lookup.js';
import { keyErrorReply } from '../commands/numkeys-errors.js';
import { errorReply, ProxyErrors, ReplyErrors } from '../errors.js';
import type { MigrateOptions } from '../router/migrate-on-access.js';
import { DISPATCHED, isPass, PASS, waitForSlot, type DispatchResult, type InterceptResult, type WaitSlot } from '../router/dispatch-result.js';
import type { Router } from '../router/router.js';
import type { SlotRoute, SlotTable } from '../router/slot-table.js';
import { Blocking } from './blocking.js';
import { MODE_MULTI, MODE_PUBSUB_RESP2, type DedicatedHost, type DedicatedLimits, type DedicatedSession } from './context.js';
import { PubSub } from './pubsub.js';
import { Transactions } from './transaction.js';

export { MODE_MULTI, MODE_PUBSUB_RESP2, type DedicatedLimits, type DedicatedSession, type SessionDedicated } from './context.js';

/** Sessions in each dedicated state right now (metrics, INFO). */
export interface DedicatedSessionStats {
  transactions: number;
  blocked: number;
  subscribers: number;
}

export class Dedicated implements DedicatedHost {
  readonly pool: DedicatedPool;
  readonly tx: Transactions;
  readonly blocking: Blocking;
  readonly pubsub: PubSub;

  constructor(
    readonly table: SlotTable,
    readonly router: Router,
    readonly backends: BackendPool,
    readonly migrate: MigrateOptions,
    readonly log: Logger,
    readonly limits: DedicatedLimits = { maxMultiBytes: 0 },
  ) {
    this.pool = backends.dedicated;
    this.tx = new Transactions(this);
    this.blocking = new Blocking(this);
    this.pubsub = new PubSub(this);
  }

  /** A command routed 'transaction' | 'blocking' | 'pubsub'. Returns DISPATCHED, a slot to wait for, or WAIT_IDLE. */
  dispatch(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    switch (spec.name) {
      case 'multi':
        return this.tx.multi(s, spec, t0);
      case 'exec':
        return this.tx.exec(s, spec, t0);
      case 'discard':
        return this.tx.discard(s, spec, t0);
      case 'watch':
        return this.tx.watch(s, spec, argv, t0);
      case 'unwatch':
        return this.tx.unwatch(s, spec, t0);
      default:
        if (spec.route === 'pubsub') return this.pubsub.dispatch(s, spec, argv, raw, t0);
        if (spec.route === 'blocking') return this.blocking.dispatch(s, spec, argv, raw, t0);
        s.reply(encodeError(`ERR command '${spec.name}' cannot be routed`), spec.id, t0);
        return DISPATCHED;
    }
  }

  /** Runs first while s.mode !== 0; PASS = continue the normal dispatch. */
  intercept(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): InterceptResult {
    if ((s.mode & MODE_PUBSUB_RESP2) !== 0) {
      const r = this.pubsub.resp2Context(s, spec, argv, t0);
      if (!isPass(r)) return r;
    }
    if ((s.mode & MODE_MULTI) !== 0) {
      switch (spec.name) {
        case 'exec':
        case 'discard':
        case 'multi':
        case 'watch':
        case 'quit':
        case 'reset':
          return PASS;
      }
      return this.tx.queue(s, s.dedicated!.tx!, spec, argv, raw, t0);
    }
    return PASS;
  }

  /** An unknown command or wrong arity was answered: inside MULTI that aborts EXEC, like Redis. */
  flagError(s: DedicatedSession): void {
    const tx = s.dedicated?.tx;
    if (tx && tx.multi) tx.aborted = true;
  }

  /** RESET: leave MULTI, drop WATCHes and every subscription (the caller resets the rest). */
  reset(s: DedicatedSession): void {
    this.tx.abandon(s);
    this.pubsub.abandon(s);
  }

  /** The client connection is gone: release everything it held. */
  sessionClosed(s: DedicatedSession): void {
    if (s.dedicated === null) return;
    this.tx.abandon(s);
    this.pubsub.abandon(s);
    this.blocking.abandon(s);
  }

  /** Called by SlotTable.apply with the slots whose route object changed; apply() also waits for the result. */
  onRoutesChanged(changed: readonly number[]): Promise<void> | undefined {
    if (changed.length === 0) return undefined;
    this.blocking.onRoutesChanged(changed);
    return this.pubsub.onRoutesChanged(changed);
  }

  routeFor(slot: number): SlotRoute | WaitSlot | Buffer {
    const fenced = this.router.fencedReply;
    if (fenced !== null) return fenced;
    if (!this.table.loaded) return ReplyErrors.noTopology;
    const route = this.table.routes[slot]!;
    if (route.locked) return waitForSlot(slot);
    if (route.server === null) return ReplyErrors.slotNotServed;
    return route;
  }

  patternServers(): BackendServer[] {
    return this.pubsub.patternServers();
  }

  exhausted(what: string): Buffer {
    return errorReply(ProxyErrors.REDSLOT_ERR_DEDICATED_EXHAUSTED, { what });
  }

  argError(spec: CommandSpec, message: string): Buffer {
    return keyErrorReply(spec, message);
  }

  stats(): DedicatedStats & DedicatedSessionStats {
    return { ...this.pool.stats(), transactions: this.tx.open, blocked: this.blocking.count, subscribers: this.pubsub.count };
  }
}
