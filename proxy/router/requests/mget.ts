/** MGET: one MGET per master; the arrays are merged back into the client's key order. */
import { encodeArrayHeader, encodeError } from '../../../shared/resp/encoder.js';
import { arrayElements } from '../../../shared/resp/reply-reader.js';
import { FanoutRequest } from './fanout.js';

const MISMATCH = encodeError('ERR backend MGET reply does not match its keys');

export class MgetRequest extends FanoutRequest {
  /** One argument per key. */
  protected readonly stride = 1;

  protected merge(): Buffer {
    const byArg = new Array<Buffer>(this.argv.length);
    let total = 0;
    for (const p of this.parts) {
      const els = arrayElements(p.reply!);
      if (!els || els.length !== p.keys.length) return MISMATCH;
      for (let j = 0; j < els.length; j++) {
        byArg[p.keys[j]!] = els[j]!;
        total += els[j]!.length;
      }
    }
    const header = encodeArrayHeader(this.argv.length - 1);
    const out = Buffer.allocUnsafe(header.length + total);
    let pos = header.copy(out, 0);
    for (let i = 1; i < byArg.length; i++) pos += byArg[i]!.copy(out, pos);
    return out;
  }
}
