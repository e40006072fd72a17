import { DISPATCHED } from '../router/router.js';
import type { CommandSpec } from '../commands/lookup.js';
import type { DedicatedSession } from './context.js';
import type { Dedicated } from './index.js';

export class BlockedRequest {}

export class Blocking {
  count = 0;
  constructor(private readonly d: Dedicated) {}
  dispatch(s: DedicatedSession, spec: CommandSpec, _argv: Buffer[], _raw: Buffer | undefined, t0: number): number {
    s.reply(this.d.argError('not yet'), spec.id, t0);
    return DISPATCHED;
  }
  abandon(_s: DedicatedSession): void {}
  onRoutesChanged(_changed: readonly number[]): void {}
}
