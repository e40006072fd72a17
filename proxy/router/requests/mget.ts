/** MGET: one MGET per master; the arrays are merged back into the client's key order. */
import { encodeArrayHeader, encodeError } from '../../../shared/resp/encoder.js';
import { arrayElements } from '../../../shared/resp/reply-reader.js';
import { FanoutRequest } from './fanout.js';

const MISMATCH = encodeError('ERR backend MGET reply does not match its keys');

/**
 * Values of at least this many bytes in all go to the client as the views of the parts' replies (no copy, no
 * buffer of the reply's size); below, one copy packs them (cheaper than a view each).
 */
const VIEWS_AT = 64 * 1024;

export class MgetRequest extends FanoutRequest {
  /** One argument per key. */
  protected readonly stride = 1;

  /** Into one buffer; or, for big values when the session takes replies in parts, the header and the values' views. */
  protected merge(): Buffer | Buffer[] {
    const byArg = new Array<Buffer>(this.argc);
    let total = 0;
    for (const p of this.parts) {
      const els = arrayElements(p.reply!);
      if (!els || els.length !== p.keys.length) return MISMATCH;
      for (let j = 0; j < els.length; j++) {
        byArg[p.keys[j]!] = els[j]!;
        total += els[j]!.length;
      }
    }
    const header = encodeArrayHeader(this.argc - 1);
    if (total >= VIEWS_AT && this.session.replyPart !== undefined) {
      byArg[0] = header;
      return byArg;
    }
    const out = Buffer.allocUnsafe(header.length + total);
    let pos = header.copy(out, 0);
    for (let i = 1; i < byArg.length; i++) pos += byArg[i]!.copy(out, pos);
    return out;
  }
}
