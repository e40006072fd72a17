/**
 * Lending of client request bytes: which commands may keep the client arena's view of their bytes
 * (proxy/session/client-reads.ts) and which get a copy of their own. Decided from the command's spec, the
 * one lookup the session makes per request.
 */
import type { CommandSpec } from '../commands/spec.js';

/** What a request decoded from the client arena does with its bytes. */
export const enum ArenaUse {
  /** Keeps the view, lent: the routed request gives it back once the backend answered. */
  Lend,
  /** Gets a copy of its own (the command may keep its argv: MULTI queue, names, script cache ...). */
  Copy,
  /** Gets a copy, and the client's later reads get buffers of their own (fan-out traffic). */
  CopyAndLeave,
}

/** `spec` (undefined: unknown command) decoded while the session's `mode` is as given (0: no MULTI, no RESP2 Pub/Sub). */
export function arenaUse(spec: CommandSpec | undefined, mode: number): ArenaUse {
  if (spec === undefined) return ArenaUse.Copy;
  switch (spec.route) {
    case 'single':
      return mode === 0 ? ArenaUse.Lend : ArenaUse.Copy;
    case 'mset':
    case 'mget':
    case 'msetnx':
    case 'sum':
      return ArenaUse.CopyAndLeave;
    default:
      return ArenaUse.Copy;
  }
}
