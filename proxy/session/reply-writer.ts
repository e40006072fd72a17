/**
 * Writing a client's replies of one event-loop turn: small replies packed into one buffer, big ones (backend
 * reply views, 16 KB and more) handed to the socket as they are, all in one vectored write (cork/uncork).
 *
 * The small replies are packed into a scratch buffer shared by every session of the process instead of a
 * Buffer.concat per flush: a fresh buffer per flush is external memory, and V8 starts a full GC per 64 MB
 * of it (at pipeline 16 with 1 KB values, 16 KB per flush). The scratch is written over only where the kernel
 * has already copied the bytes (the socket's buffer was empty after the write); bytes a socket still holds
 * are never rewritten, and when the scratch is full a new one is started.
 */
import { ViewMaker } from '../../shared/resp/views.js';
/** Where replies are written: a socket, or its DirectWriter (proxy/util/direct-write.ts). */
export interface ReplySink {
  write(buf: Buffer): boolean;
  cork(): void;
  uncork(): void;
  /** Bytes handed over and not yet taken by the kernel. */
  readonly writableLength: number;
}

/** Replies at least this big are written as they are; smaller ones are packed. */
export const PACK_LIMIT = 16 * 1024;

/** Replies up to this long are packed byte by byte. */
const SHORT_COPY = 32;

/** Bytes of the shared scratch. */
const SCRATCH_SIZE = 64 * 1024;

let scratch: Buffer | null = null;
/** Views of the scratch (its ArrayBuffer looked up once per scratch, not per write). */
const PACKED_VIEWS = new ViewMaker();
/** Scratch bytes before this offset may still be read by a write in progress. */
let used = 0;

/** Room for `n` packed bytes; returns the offset they go at. */
function reserve(n: number): number {
  if (scratch === null || SCRATCH_SIZE - used < n) {
    scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
    used = 0;
  }
  return used;
}

/** Packs list[from, to) (small replies, `bytes` in all) and writes them as one buffer. */
function writePacked(socket: ReplySink, list: readonly Buffer[], from: number, to: number, bytes: number): boolean {
  if (to - from === 1) return socket.write(list[from]!);
  if (bytes > SCRATCH_SIZE) return socket.write(Buffer.concat(list.slice(from, to), bytes));
  let at = reserve(bytes);
  const start = at;
  const s = scratch!;
  for (let i = from; i < to; i++) {
    const b = list[i]!;
    const n = b.length;
    // A short reply byte by byte: cheaper than a call of TypedArray#set (pipeline 16: one per reply).
    if (n <= SHORT_COPY) for (let j = 0; j < n; j++) s[at + j] = b[j]!;
    else s.set(b, at);
    at += n;
  }
  used = at;
  return socket.write(PACKED_VIEWS.view(s, start, at));
}

/**
 * Writes `list` (`total` bytes, in order) to `socket`; returns socket.write's verdict (false = needs drain).
 */
export function writeReplies(socket: ReplySink, list: readonly Buffer[], total: number): boolean {
  if (list.length === 1) return socket.write(list[0]!);
  const mark = scratch !== null ? used : 0;
  const mine = scratch;
  let big = false;
  for (let i = 0; i < list.length; i++) {
    if (list[i]!.length >= PACK_LIMIT) {
      big = true;
      break;
    }
  }
  let ok: boolean;
  if (!big) ok = writePacked(socket, list, 0, list.length, total);
  else {
    socket.cork();
    ok = true;
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.length < PACK_LIMIT) {
        bytes += b.length;
        continue;
      }
      if (i > from) ok = writePacked(socket, list, from, i, bytes) && ok;
      ok = socket.write(b) && ok;
      from = i + 1;
      bytes = 0;
    }
    if (list.length > from) ok = writePacked(socket, list, from, list.length, bytes) && ok;
    socket.uncork();
  }
  // The kernel took every byte: what this write packed may be written over by the next one.
  if (socket.writableLength === 0 && scratch === mine) used = mark;
  return ok;
}

/** The scratch small replies are packed into now (tests). */
export function packingScratch(): Buffer | null {
  return scratch;
}
