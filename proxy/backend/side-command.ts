/**
 * One command on a short-lived connection of its own ("side connection"), beside the shared pipelined ones.
 *
 * Why: Redis stops reading the connection whose script is running, so anything pipelined behind an endless
 * EVAL (SCRIPT KILL included) waits forever. A fresh connection is read: SCRIPT KILL / FUNCTION KILL reach
 * the server at once, and a PING there tells whether the server is busy running a script (`-BUSY ...`).
 * AUTH (allowed while busy) goes first when the proxy has backend credentials. RESP2, one reply, then the
 * socket is closed. Never throws: a dial or timeout failure resolves as the `unavailable` error reply.
 */
import net from 'node:net';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { ReplyFramer, type FrameHandler } from '../../shared/resp/reply-framer.js';

export interface SideTarget {
  readonly host: string;
  readonly port: number;
}

export interface SideOptions {
  user: string;
  password: string;
  /** Connect + answer deadline. */
  timeoutMs: number;
  /** Reply when the server cannot be reached or does not answer in time. */
  unavailable: Buffer;
}

/** Sends `args` on a new connection to `target`; resolves with its reply (a copy), or opts.unavailable. */
export function sideCommand(target: SideTarget, args: ReadonlyArray<string | Buffer>, opts: SideOptions): { reply: Promise<Buffer>; cancel(): void } {
  let socket: net.Socket | null = null;
  let settle: (b: Buffer) => void = () => {};
  const reply = new Promise<Buffer>((resolve) => {
    const sock = net.connect({ host: target.host, port: target.port });
    socket = sock;
    let done = false;
    settle = (b: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(b);
    };
    const timer = setTimeout(() => settle(opts.unavailable), opts.timeoutMs);
    timer.unref();
    let skip = 0;
    const cmds: Buffer[] = [];
    if (opts.password !== '') {
      cmds.push(encodeCommand(opts.user !== '' ? ['AUTH', opts.user, opts.password] : ['AUTH', opts.password]));
      skip = 1;
    }
    cmds.push(encodeCommand(args));
    const handler: FrameHandler = {
      onFrame(frame: Buffer) {
        if (skip > 0) {
          skip--;
          if (frame[0] === 0x2d) settle(Buffer.from(frame)); // AUTH refused: that is the answer
          return;
        }
        settle(Buffer.from(frame));
      },
      onFramingError() {
        settle(opts.unavailable);
      },
    };
    const framer = new ReplyFramer(handler);
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(Buffer.concat(cmds)));
    sock.on('data', (chunk: Buffer) => framer.push(chunk));
    sock.on('error', () => settle(opts.unavailable));
    sock.on('close', () => settle(opts.unavailable));
  });
  return { reply, cancel: () => (socket as net.Socket | null)?.destroy() };
}
