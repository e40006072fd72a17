/**
 * Redis 7's own wording for bad numkeys arguments, per command. The key finder (keys.ts) speaks the
 * generic vocabulary of Redis's key-spec walk; the commands themselves parse numkeys with their own
 * messages, and a client must see exactly what Redis would say (checked byte for byte against a real
 * redis-server in test/adversarial/numkeys-errors.test.ts):
 * - LMPOP, BLMPOP, ZMPOP, BZMPOP, SINTERCARD: anything but an integer >= 1 -> "numkeys should be greater
 *   than 0"; more keys than arguments -> "syntax error" (SINTERCARD keeps the generic message);
 * - ZUNION, ZINTER, ZDIFF, ZINTERCARD and their STORE forms: 0 or negative -> "at least 1 input key is
 *   needed for '<name>' command"; more keys than arguments -> "syntax error".
 */
import { encodeError } from '../../shared/resp/encoder.js';
import { KEY_ERRORS } from './keys.js';
import type { CommandSpec } from './spec.js';

const GREATER_THAN_0 = new Set(['lmpop', 'blmpop', 'zmpop', 'bzmpop', 'sintercard']);
const AT_LEAST_1 = new Set(['zunion', 'zinter', 'zdiff', 'zintercard', 'zunionstore', 'zinterstore', 'zdiffstore']);

/** `message` (a key-finder error) as command `name` itself words it. */
export function redisKeyError(name: string, message: string): string {
  if (GREATER_THAN_0.has(name)) {
    if (message === KEY_ERRORS.tooMany) return name === 'sintercard' ? message : KEY_ERRORS.syntax;
    if (message === KEY_ERRORS.notInteger || message === KEY_ERRORS.negative || message === KEY_ERRORS.zero) return 'numkeys should be greater than 0';
  } else if (AT_LEAST_1.has(name)) {
    if (message === KEY_ERRORS.tooMany) return KEY_ERRORS.syntax;
    if (message === KEY_ERRORS.negative || message === KEY_ERRORS.zero) return `at least 1 input key is needed for '${name}' command`;
  }
  return message;
}

/** The `-ERR` reply for a commandKeys() message of `spec`, worded as Redis 7 words it. */
export function keyErrorReply(spec: CommandSpec, message: string): Buffer {
  return encodeError(`ERR ${redisKeyError(spec.name, message)}`);
}
