/** MSET: one MSET per master with that master's key/value pairs; +OK when every part said OK. */
import { Replies } from '../../../shared/resp/encoder.js';
import { FanoutRequest, type Part } from './fanout.js';

export class MsetRequest extends FanoutRequest {
  protected partArgs(part: Part): Buffer[] {
    const args = [this.argv[0]!];
    for (const k of part.keys) args.push(this.argv[k]!, this.argv[k + 1]!);
    return args;
  }

  protected merge(): Buffer {
    // No part is an error (checked before merge): all said OK.
    return Replies.ok;
  }
}
