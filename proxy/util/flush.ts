/**
 * Write coalescing: everything a connection produces during one event-loop turn goes out in one write.
 * Objects with pending output register here; one setImmediate per turn flushes them all (cheaper than one
 * setImmediate per connection).
 */
import type { Socket } from 'node:net';

export interface Flushable {
  /** Set by the scheduler while the object is queued; do not touch elsewhere. */
  flushQueued: boolean;
  flush(): void;
}

let queue: Flushable[] = [];
let scheduled = false;

function runFlushes(): void {
  scheduled = false;
  const q = queue;
  queue = [];
  for (let i = 0; i < q.length; i++) {
    const f = q[i]!;
    f.flushQueued = false;
    f.flush();
  }
}

export function scheduleFlush(f: Flushable): void {
  if (f.flushQueued) return;
  f.flushQueued = true;
  queue.push(f);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}

/** Buffers at least this big are handed to the socket as they are; smaller ones are copied into one write. */
const COPY_LIMIT = 16 * 1024;

/**
 * Writes a list of buffers as few socket writes as possible: small buffers are packed into one, big ones go
 * through writev (cork/uncork) without copying. Returns socket.write's result (false = needs drain).
 */
export function writeBuffers(socket: Socket, list: Buffer[], total: number): boolean {
  if (list.length === 1) return socket.write(list[0]!);
  let big = false;
  for (let i = 0; i < list.length; i++) {
    if (list[i]!.length >= COPY_LIMIT) {
      big = true;
      break;
    }
  }
  if (!big) return socket.write(Buffer.concat(list, total));
  socket.cork();
  let ok = true;
  let run: Buffer[] = [];
  let runLen = 0;
  const flushRun = () => {
    if (run.length === 0) return;
    ok = socket.write(run.length === 1 ? run[0]! : Buffer.concat(run, runLen)) && ok;
    run = [];
    runLen = 0;
  };
  for (const b of list) {
    if (b.length >= COPY_LIMIT) {
      flushRun();
      ok = socket.write(b) && ok;
    } else {
      run.push(b);
      runLen += b.length;
    }
  }
  flushRun();
  socket.uncork();
  return ok;
}
