/** DEL, UNLINK, EXISTS, TOUCH: one sub-command per master with its keys; the integer replies are summed. */
import { encodeError, encodeInteger } from '../../../shared/resp/encoder.js';
import { readInteger } from '../../../shared/resp/reply-reader.js';
import { FanoutRequest } from './fanout.js';

const MISMATCH = encodeError('ERR backend reply is not an integer');

export class SumRequest extends FanoutRequest {
  /** One argument per key. */
  protected readonly stride = 1;

  protected merge(): Buffer {
    let sum = 0;
    for (const p of this.parts) {
      const n = readInteger(p.reply!);
      if (Number.isNaN(n)) return MISMATCH;
      sum += n;
    }
    return encodeInteger(sum);
  }
}
