/** MSET: one MSET per master with that master's key/value pairs; +OK when every part said OK. */
import { Replies } from '../../../shared/resp/encoder.js';
import { FanoutRequest } from './fanout.js';

export class MsetRequest extends FanoutRequest {
  /** Key and value. */
  protected readonly stride = 2;

  protected merge(): Buffer {
    // No part is an error (checked before merge): all said OK.
    return Replies.ok;
  }
}
