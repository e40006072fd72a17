/** MGET: one MGET per master; the arrays are merged back into the client's key order. */
import { arrayElementsInPieces, elementLength, type PiecedElement } from '../../../shared/resp/array-pieces.js';
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
  /** A part's big reply is merged from the pieces it arrived in (an element cut by a piece's end: its views). */
  protected override readonly mergesPieces = true;

  /** Into one buffer; or, for big values when the session takes replies in parts, the header and the values' views. */
  protected merge(): Buffer | Buffer[] {
    const byArg = new Array<PiecedElement>(this.argc);
    let total = 0;
    let cut = false;
    for (const p of this.parts) {
      const els = p.pieces !== null ? arrayElementsInPieces(p.pieces) : arrayElements(p.reply!);
      if (!els || els.length !== p.keys.length) return MISMATCH;
      for (let j = 0; j < els.length; j++) {
        const e = els[j]!;
        byArg[p.keys[j]!] = e;
        if (Array.isArray(e)) cut = true;
        total += elementLength(e);
      }
    }
    const header = encodeArrayHeader(this.argc - 1);
    if (total >= VIEWS_AT && this.session.replyPart !== undefined) {
      byArg[0] = header;
      return cut ? byArg.flat() : (byArg as Buffer[]);
    }
    const out = Buffer.allocUnsafe(header.length + total);
    let pos = header.copy(out, 0);
    for (let i = 1; i < byArg.length; i++) {
      const e = byArg[i]!;
      if (!Array.isArray(e)) pos += e.copy(out, pos);
      else for (let k = 0; k < e.length; k++) pos += e[k]!.copy(out, pos);
    }
    return out;
  }
}
