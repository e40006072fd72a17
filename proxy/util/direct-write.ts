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
 * direct writes (nothing in the proxy reads it). writev() does the same for several buffers (the handle's
 * writev: one vectored write, as cork + writes + uncork would make): backend connections write their batches
 * through it (proxy/backend/output-batch.ts).
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
  /** All buffers (`allBuffers` true): one vectored write of `chunks`, in order. */
  writev(req: WriteReq, chunks: readonly Uint8Array[], allBuffers: boolean): number;
}

/** The fields Node's stream_base reads on a write request (the rest is ours). */
interface WriteReq {
  handle: StreamHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  writer: DirectWriter | null;
  /**
   * What a write left pending in libuv reads from: libuv holds only pointers, so the buffers must stay
   * reachable until it completes (Node's own writes keep them on the request too: req.buffer, req._chunks).
   */
  retained: Buffer | Buffer[] | null;
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
  this.retained = null;
  if (w !== null) w.completed(status);
}

function newReq(b: StreamWrapBinding): WriteReq {
  const req = new b.WriteWrap();
  req.handle = null;
  req.oncomplete = oncomplete;
  req.writer = null;
  req.retained = null;
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

  /** The socket's handle when a write can go straight through it now (nothing buffered or pending), else null. */
  private directHandle(): StreamHandle | null {
    const s = this.socket;
    const h = (s as unknown as { _handle: Partial<StreamHandle> | null })._handle;
    if (h === null || typeof h.writeBuffer !== 'function' || typeof h.writev !== 'function' || s instanceof tls.TLSSocket) return null;
    if (this.pending !== 0 || s.writableLength !== 0 || s.writableCorked !== 0 || s.destroyed || s.writableEnded) return null;
    return h as StreamHandle;
  }

  /** socket.write(buf): false = wait for drained() (or the socket's 'drain') before writing much more. */
  write(buf: Buffer): boolean {
    const b = streamWrap();
    const h = b === null ? null : this.directHandle();
    if (h === null) return this.socket.write(buf);
    const req = spare ?? newReq(b!);
    spare = null;
    return this.after(b!, h, req, h.writeBuffer(req, buf), buf, buf.length);
  }

  /**
   * cork() + write() of each of `list` (`bytes` in all) + uncork(): one vectored write, straight through the
   * handle when it can. `list` may be reused once this returns (a write left pending keeps a copy of it).
   */
  writev(list: readonly Buffer[], bytes: number): boolean {
    if (list.length === 1) return this.write(list[0]!);
    const b = streamWrap();
    const h = b === null ? null : this.directHandle();
    if (h === null) {
      const s = this.socket;
      s.cork();
      let ok = true;
      for (let i = 0; i < list.length; i++) ok = s.write(list[i]!) && ok;
      s.uncork();
      return ok;
    }
    const req = spare ?? newReq(b!);
    spare = null;
    return this.after(b!, h, req, h.writev(req, list, true), list, bytes);
  }

  /** After a direct write: done (the request object is reused), failed, or pending in libuv until completed(). */
  private after(b: StreamWrapBinding, h: StreamHandle, req: WriteReq, err: number, data: Buffer | readonly Buffer[], bytes: number): boolean {
    if (err !== 0) {
      spare = req;
      // What socket.write would do with a failed write: the socket errors and closes.
      this.socket.destroy(Object.assign(new Error(`write failed (${err})`), { errno: err, syscall: 'write' }));
      return false;
    }
    if (b.streamBaseState[b.kLastWriteWasAsync] === 0) {
      spare = req;
      return true;
    }
    // The rest waits in libuv; the handle keeps `req` until it is written.
    req.handle = h;
    req.writer = this;
    req.retained = Array.isArray(data) ? data.slice() : (data as Buffer);
    this.pending = bytes;
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
