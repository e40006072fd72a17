/**
 * Writing to a plain TCP socket straight through its handle when nothing is buffered, instead of through
 * Writable (socket.write): writeOrBuffer, a WriteWrap object per write, onwrite, afterWrite on nextTick. At
 * pipeline 1 every request costs one client write, and that machinery was a large part of the proxy's
 * user-space CPU per request (bench/micro/read-path.bench.ts, mode `direct`).
 *
 * The handle's writeBuffer() first tries the write syscall itself (libuv's uv_try_write); when the kernel
 * takes every byte it is done, and the request object it was given is not kept, so one is reused. When it
 * cannot (the socket's kernel buffer is full), libuv queues the rest and keeps the request object until the
 * write completes: then this writer counts those bytes as pending and calls drained() when they are out.
 *
 * Ordering: libuv writes in the order writes were issued, whether through this writer or socket.write, so
 * the two can be mixed: whenever the socket has anything buffered (Writable's queue, corked, connecting) or
 * a direct write is pending, write() goes through socket.write. Whatever is not a plain TCP socket with
 * that handle API (TLS, another Node) always goes through socket.write. socket.bytesWritten does not count
 * direct writes (nothing in the proxy reads it).
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
}

/** The fields Node's stream_base reads on a write request (the rest is ours). */
interface WriteReq {
  handle: StreamHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  writer: DirectWriter | null;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

let binding: StreamWrapBinding | null | undefined;

/** Node's stream_wrap binding (WriteWrap, the last write's result), or null when this Node has none. */
function streamWrap(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  try {
    const legacy = (process as unknown as { binding?: (name: string) => unknown }).binding;
    const b = typeof legacy === 'function' ? (legacy.call(process, 'stream_wrap') as Partial<StreamWrapBinding>) : undefined;
    if (b !== undefined && typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number') {
      binding = b as StreamWrapBinding;
    }
  } catch {
    binding = null;
  }
  return binding;
}

function oncomplete(this: WriteReq, status: number): void {
  const w = this.writer;
  this.writer = null;
  this.handle = null;
  if (w !== null) w.completed(status);
}

function newReq(b: StreamWrapBinding): WriteReq {
  const req = new b.WriteWrap();
  req.handle = null;
  req.oncomplete = oncomplete;
  req.writer = null;
  return req;
}

/** A request object for writes the kernel takes at once (never kept by the handle). */
let spare: WriteReq | null = null;

/**
 * Writes a socket directly when it can (socket.write otherwise). Client sessions write through their
 * Backpressure, which extends this (one field more per connection, nothing else: idle connections are many).
 */
export class DirectWriter {
  /** Bytes written directly that libuv still holds (the kernel's buffer was full). */
  pending = 0;

  constructor(protected readonly socket: Socket) {}

  /** Bytes waiting to be written (Writable's buffer and pending direct writes), as socket.writableLength. */
  get writableLength(): number {
    return this.pending + this.socket.writableLength;
  }

  /** socket.write(buf): false = wait for drained() (or the socket's 'drain') before writing much more. */
  write(buf: Buffer): boolean {
    const s = this.socket;
    const h = (s as unknown as { _handle: Partial<StreamHandle> | null })._handle;
    const b = streamWrap();
    if (b === null || h === null || typeof h.writeBuffer !== 'function' || s instanceof tls.TLSSocket || this.pending !== 0 || s.writableLength !== 0 || s.writableCorked !== 0 || s.destroyed || s.writableEnded) {
      return s.write(buf);
    }
    const req = spare ?? newReq(b);
    spare = null;
    const err = h.writeBuffer(req, buf);
    if (err !== 0) {
      spare = req;
      // What socket.write would do with a failed write: the socket errors and closes.
      s.destroy(Object.assign(new Error(`write failed (${err})`), { errno: err, syscall: 'write' }));
      return false;
    }
    if (b.streamBaseState[b.kLastWriteWasAsync] === 0) {
      spare = req;
      return true;
    }
    // The rest waits in libuv; the handle keeps `req` until it is written.
    req.handle = h as StreamHandle;
    req.writer = this;
    this.pending = buf.length;
    return false;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** The handle finished a write that went asynchronous (status < 0: it failed, the socket is closing). */
  completed(status: number): void {
    this.pending = 0;
    if (status < 0 && !this.socket.destroyed) this.socket.destroy(Object.assign(new Error(`write failed (${status})`), { errno: status, syscall: 'write' }));
    this.drained();
  }

  /** A write that returned false is done: the socket can take more (like its 'drain'). */
  drained(): void {}
}

/** One direct write on `socket` (benchmarks): a writer per socket, made on first use. */
const writers = new WeakMap<Socket, DirectWriter>();
export function writeDirect(socket: Socket, buf: Buffer): boolean {
  let w = writers.get(socket);
  if (w === undefined) writers.set(socket, (w = new DirectWriter(socket)));
  return w.write(buf);
}
