/**
 * Handlers for commands the proxy answers itself, indexed by CommandSpec.id. A handler on a `local` command
 * always answers; a handler on any other command answers the parts it can and returns undefined for the
 * rest, which keeps the table's route or refusal (CLIENT PAUSE refused; INFO with group sections routed).
 */
import { allCommands } from '../commands/lookup.js';
import { answerCommandCommand } from '../commands/command-command.js';
import { acl } from './acl.js';
import { auth, hello } from './auth.js';
import { echo, ping, quit, readonly, readwrite, reset, select } from './basic.js';
import { client } from './client.js';
import type { LocalHandler } from './context.js';
import { info } from './info.js';
import { slowlogCommand } from './slowlog.js';

const BY_NAME: Record<string, LocalHandler> = {
  ping,
  echo,
  quit,
  reset,
  select,
  auth,
  hello,
  info,
  command: (_ctx, argv) => answerCommandCommand(argv),
  client,
  slowlog: (ctx, argv) => (ctx.facts.slowlog === undefined ? undefined : slowlogCommand(ctx.facts.slowlog, argv)),
  readonly,
  readwrite,
  acl,
};

/** Handlers by command id (undefined = not handled locally). */
export function localHandlers(): Array<LocalHandler | undefined> {
  return allCommands().map((spec) => BY_NAME[spec.name]);
}

/** Names of 'local' commands that have no handler (a test asserts this is empty). */
export function missingLocalHandlers(): string[] {
  return allCommands().filter((s) => s.route === 'local' && BY_NAME[s.name] === undefined).map((s) => s.name);
}
