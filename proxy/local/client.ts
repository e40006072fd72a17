/**
 * The parts of CLIENT and CONFIG a proxy can answer truthfully about itself; everything else in those
 * commands keeps the table's refusal. CLIENT SETNAME/GETNAME/ID/SETINFO are what client libraries send on
 * connect; CONFIG GET answers an empty list (redis-benchmark asks for `save` and `appendonly`).
 */
import { encodeBulk, encodeInteger, Replies } from '../../shared/resp/encoder.js';
import { validClientName } from './auth.js';
import type { LocalContext } from './context.js';

function is(arg: Buffer | undefined, lower: string): boolean {
  return arg !== undefined && arg.length === lower.length && arg.toString('latin1').toLowerCase() === lower;
}

const BAD_NAME = Buffer.from('-ERR Client names cannot contain spaces, newlines or special characters.\r\n');

export function client(ctx: LocalContext, argv: Buffer[]): Buffer | undefined {
  const sub = argv[1];
  if (is(sub, 'setname') && argv.length === 3) {
    const name = argv[2]!;
    if (!validClientName(name)) return BAD_NAME;
    ctx.name = name.length === 0 ? null : name;
    return Replies.ok;
  }
  if (is(sub, 'getname') && argv.length === 2) return encodeBulk(ctx.name);
  if (is(sub, 'id') && argv.length === 2) return encodeInteger(ctx.id);
  if (is(sub, 'setinfo') && argv.length === 4) {
    const value = argv[3]!;
    if (!validClientName(value)) return Buffer.from('-ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.\r\n');
    if (is(argv[2], 'lib-name')) ctx.libName = value;
    else if (is(argv[2], 'lib-ver')) ctx.libVer = value;
    else return Buffer.from(`-ERR Unrecognized option '${argv[2]!.toString('latin1').replace(/[\r\n]/g, ' ')}'\r\n`);
    return Replies.ok;
  }
  return undefined;
}

export function config(_ctx: LocalContext, argv: Buffer[]): Buffer | undefined {
  if (is(argv[1], 'get') && argv.length >= 3) return Replies.emptyArray;
  return undefined;
}
