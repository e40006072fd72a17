/** The arguments of one complete multibulk request given as its bytes (a slow path: the slow log). */
import { RequestDecoder } from './request-decoder.js';

/** argv of the request `raw` (views of it); empty when `raw` is not one complete request. */
export function decodeArgv(raw: Buffer): Buffer[] {
  let argv: Buffer[] = [];
  const d = new RequestDecoder({
    onRequest: (a) => {
      if (argv.length === 0) argv = a;
    },
    onProtocolError: () => undefined,
  });
  d.push(raw);
  return argv;
}
