/**
 * Where client requests land: socket reads go into one scratch buffer shared by every client socket of the
 * process, and each read is copied at once into a lent slab (proxy/util/lent-slabs.ts) that the request
 * decoder works on. Node's default gives every socket read a fresh ArrayBuffer, pushed through Readable's
 * push/'data' machinery: at 16 KB values that was 16 KB of external memory per request, and V8 starts a full
 * GC per 64 MB of it. A copy of 16 KB costs far less than the GC work it saves.
 *
 * - The scratch can be shared: a read's callback runs before any other read happens, and copies it out.
 * - Idle connections hold nothing (no buffer reserved per socket).
 * - The slab is written over only when every request decoded from it has been given back: a plain
 *   single-key or fan-out command (MSET, MGET, DEL ...) once its backends answered, by the request that
 *   alone holds its bytes by then; a command that takes another path (a failed migrate-on-access, an error
 *   the router answers) keeps the slab from being written over for good (it is left to the GC). Every other
 *   command gets a copy of its own (ownCopy). Who gives back what, when: proxy/router/lending.ts. What
 *   outlives a read (a partial inline request) is copied by the decoder (RequestDecoder.copySpanning): such
 *   copies die young, in a scavenge, where a slab they kept would die old and need a full GC (MSET 1 KB at
 *   -P 16: 25 mark-compacts per 100k requests when they kept slabs, none with copies); client names, MULTI
 *   queues and blocked commands keep copies too.
 * - A multibulk request left incomplete at the end of a read is carried (RequestDecoder.carrier,
 *   requestCarrier below): its bytes so far are copied once into a buffer with room for what it declares
 *   (a lent slab from 8 KB: SLAB_SIZE, or a power of two up to 1 MB), and the socket's next reads land right
 *   after them (`target`), so the request completes as one view, sent to the backends as it is or by
 *   reference, instead of its pieces being copied and joined. Requests read there are lent (Session) and
 *   given back by the plain single-key and fan-out paths; the slab goes back to the pool after the last.
 *   A big scratch read is scanned first (shared/resp/incomplete-tail.ts): the incomplete request it ends
 *   with is pushed to the decoder as the scratch itself and carried from there, so its bytes are copied
 *   once, not into the arena and then again into the carry buffer (feedRequests below).
 *
 * Node offers caller-owned read buffers (`onread`) only on sockets it creates; an accepted socket gets them
 * through the same mechanism (the socket's kBuffer/kBufferGen/kBufferCb slots and the handle's
 * useUserBuffer), found on a probe socket. When that is not available (another Node version, TLS), the
 * socket keeps 'data' events.
 */
import net from 'node:net';
import tls from 'node:tls';
import { incompleteTail } from '../../shared/resp/incomplete-tail.js';
import type { RequestCarrier, RequestDecoder } from '../../shared/resp/request-decoder.js';
import { ViewMaker } from '../../shared/resp/views.js';
import { stamped2 } from '../util/clock.js';
import { acquireRounded, acquireSlab, lendSlab, retireFrame, retireSlab, SLAB_SIZE, type Slab } from '../util/lent-slabs.js';

/**
 * Bytes of client requests this process copied after reading them: into the arena (ClientArena.copyIn), and
 * into carry buffers (a request spanning reads, moved there by the decoder). What the kernel reads straight
 * into a carry buffer is not copied. For tests and benchmarks.
 */
export const readCopies = { arena: 0, carried: 0 };

/** Bytes of the shared read scratch: the most one read returns. */
const SCRATCH_SIZE = 64 * 1024;

interface UserBufferSlots {
  buffer: symbol;
  gen: symbol;
  cb: symbol;
}

let slots: UserBufferSlots | null | undefined;

/** The socket slots net uses for `onread`, found on a probe socket (null when this Node has none). */
function userBufferSlots(): UserBufferSlots | null {
  if (slots !== undefined) return slots;
  const gen = (): Buffer => Buffer.alloc(1);
  const cb = (): boolean => true;
  // `onread` is accepted by the Socket constructor (net.connect passes it there), though not in its typings.
  const probe = new net.Socket({ onread: { buffer: gen, callback: cb } } as net.SocketConstructorOpts);
  const own = probe as unknown as Record<symbol, unknown>;
  const syms = Object.getOwnPropertySymbols(probe);
  const byName = (name: string) => syms.find((s) => s.description === name);
  const buffer = byName('kBuffer');
  const g = byName('kBufferGen');
  const c = byName('kBufferCb');
  probe.destroy();
  slots = buffer !== undefined && g !== undefined && c !== undefined && own[g] === gen && own[c] === cb ? { buffer, gen: g, cb: c } : null;
  return slots;
}

let scratch: Buffer | null = null;
const nextScratch = (): Buffer => (scratch ??= Buffer.allocUnsafeSlow(SCRATCH_SIZE));

/**
 * Makes an accepted plain-TCP socket read into the shared scratch and call `onRead(scratch, n, true, ctx)` (its
 * first `n` bytes are the read, valid only during the call) instead of emitting 'data' (`ctx` passed on, so
 * that `onRead` need not be a closure of its own per connection). False when not
 * possible: use 'data'. `target.readTarget`, read after each read, may name where the next one lands instead
 * (a carried request's buffer, RequestDecoder.readTarget): then `onRead(buf, n, false, ctx)` with that buffer.
 * No view is made here: a read copied into the arena needs none (ClientArena.copyIn).
 * pause()/resume(), 'end' and timeouts work as before (net supports them with `onread`).
 */
export function readIntoScratch<C>(
  socket: net.Socket,
  onRead: (buf: Buffer, n: number, inScratch: boolean, ctx: C) => void,
  ctx?: C,
  target?: { readonly readTarget: Buffer | null },
): boolean {
  const s = userBufferSlots();
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle;
  if (s === null || socket instanceof tls.TLSSocket || handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  const own = socket as unknown as Record<symbol, unknown>;
  const first = nextScratch();
  own[s.gen] = target === undefined ? nextScratch : (): Buffer => target.readTarget ?? nextScratch();
  own[s.cb] = (n: number, buf: Buffer): boolean => {
    onRead(buf, n, buf === scratch, ctx as C);
    return true;
  };
  own[s.buffer] = first;
  handle.useUserBuffer(first);
  return true;
}

/**
 * Copies a request inside one read (`raw`, and `argv`, views of it) into a buffer of its own: `argv` is
 * re-pointed into the copy, which is returned as the new raw.
 */
export function ownCopy(argv: Buffer[], raw: Buffer): Buffer {
  const copy = Buffer.from(raw);
  const base = raw.byteOffset;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const at = a.byteOffset - base;
    argv[i] = copy.subarray(at, at + a.length);
  }
  return copy;
}

/**
 * The slab client requests are copied into, shared by every session: requests are views of it, lent while
 * in use (who gives back what, when: proxy/router/lending.ts).
 */
export class ClientArena {
  private slab: Slab | null = null;
  private pos = 0;
  /** Views of the slab (its ArrayBuffer looked up once per slab, not per read: shared/resp/views.ts). */
  private readonly views = new ViewMaker();

  /** Copies the first `n` bytes of `bytes` (a read) into the slab; returns the copy, for the decoder. */
  copyIn(bytes: Buffer, n = bytes.length): Buffer {
    let s = this.slab;
    // Nothing decoded from this slab is in use: write it over from its start.
    if (s !== null && s.lent === 0) this.pos = 0;
    if (s === null || s.buf.length - this.pos < n) {
      if (s !== null) retireSlab(s);
      s = this.slab = acquireSlab(n > SLAB_SIZE ? n : SLAB_SIZE);
      this.pos = 0;
    }
    const at = this.pos;
    const dst = s.buf;
    readCopies.arena += n;
    // A short read byte by byte: cheaper than the view TypedArray#set needs (~80 ns, as much as 60 bytes).
    if (n <= SHORT_COPY) for (let i = 0; i < n; i++) dst[at + i] = bytes[i]!;
    else dst.set(n === bytes.length ? bytes : bytes.subarray(0, n), at);
    this.pos = at + n;
    return this.views.view(dst, at, this.pos);
  }

  /** Lends a view of the last copyIn (a request decoded from it) and returns its slab, to give it back by. */
  lendLast(): Slab {
    const s = this.slab!;
    lendSlab(s);
    return s;
  }

}

/** Reads up to this long are copied into the arena byte by byte. */
const SHORT_COPY = 48;

/** The arena of this process's sessions. */
export const clientArena = new ClientArena();

/** Requests carried over reads smaller than this get a buffer of exactly their size; bigger ones a pooled slab. */
const SLAB_CARRY_AT = 8 * 1024;

/**
 * Buffers for requests spanning reads (RequestDecoder.carrier): the rest of the request is read in place.
 * Big ones are lent slabs (from the pool, and back to it once every request decoded from them is given back:
 * Session.onRequest lends each, see there); a slab's room past the request takes the reads that follow.
 */
export const requestCarrier: RequestCarrier = {
  take: (size: number, copied: number): Buffer => {
    readCopies.carried += copied;
    return size < SLAB_CARRY_AT ? Buffer.allocUnsafe(size) : acquireRounded(size).buf;
  },
  done: retireFrame,
};

/** Where the read being decoded landed. */
export const enum ReadOrigin {
  /** No read is being decoded. */
  None,
  /** The shared scratch, copied into the client arena: requests are views of the arena. */
  Arena,
  /** A buffer of its own: a carried request's (a lent slab, or exactly its size), or (TLS) Node's 'data' chunk. */
  Own,
  /**
   * The shared scratch itself: the start of a request the read leaves incomplete (incompleteTail), which the
   * decoder copies into the buffer it is carried in. Nothing decoded from it may be kept.
   */
  Scratch,
}

/** A client's reads' destination (the session): its decoder, and where each chunk pushed to it lies (its requests are lent or copied by it). */
export interface ReadSink {
  origin: ReadOrigin;
  readonly decoder: RequestDecoder;
}

/**
 * Scratch reads from this long are scanned for a trailing incomplete request (incompleteTail) to carry
 * straight from the scratch: shorter ones cost little to copy twice. At most this many length lines are read.
 */
const CARRY_FROM_SCRATCH_AT = 16 * 1024;
const TAIL_SCAN_HEADERS = 64;

/**
 * Where the scratch read being decoded is split (feedRequests): its incomplete tail begins here; -1 = not
 * split. Module state, not a closure per connection (idle memory): one read is decoded at a time.
 */
let splitAt = -1;

/** Pushes a read to `decoder`; a split one (splitAt) as its complete requests copied into the arena, then its tail as it is. */
function pushRead(decoder: RequestDecoder, sink: ReadSink, bytes: Buffer): void {
  const tail = splitAt;
  if (tail < 0) return decoder.push(bytes);
  splitAt = -1;
  if (tail > 0) {
    sink.origin = ReadOrigin.Arena;
    decoder.push(clientArena.copyIn(bytes, tail));
    if (decoder.dead) return;
  }
  sink.origin = ReadOrigin.Scratch;
  decoder.push(bytes.subarray(tail));
}

/**
 * Feeds a client socket's reads to its request decoder: a read into the shared scratch is copied into the
 * client arena, or, when it is big and ends in an incomplete request, the requests before that one are and
 * that one is carried straight from the scratch (one copy, not two); a read into a carried request's buffer
 * (decoder.readTarget), or (TLS, another Node) a 'data' chunk, is decoded where it landed.
 * No closure of its own per connection: every idle connection would pay for its context (~40 B of heap).
 */
export function feedRequests(socket: net.Socket, sink: ReadSink): void {
  const decoder = sink.decoder;
  const arenaReads = readIntoScratch(socket, onClientRead, sink, decoder);
  // The arena is written over: what outlives a read is copied, a request spanning reads carried (read in place).
  decoder.copySpanning = arenaReads;
  if (arenaReads) decoder.carrier = requestCarrier;
  else feedDataEvents(socket, sink);
}

/** Without scratch reads (TLS, another Node): each 'data' chunk is decoded where Node read it. */
function feedDataEvents(socket: net.Socket, sink: ReadSink): void {
  socket.on('data', (chunk: Buffer) => {
    sink.origin = ReadOrigin.Own;
    stamped2(decodeRead, sink, chunk);
  });
}

/** readIntoScratch's onRead for a client: see feedRequests. */
function onClientRead(buf: Buffer, n: number, inScratch: boolean, sink: ReadSink): void {
  if (!inScratch) {
    sink.origin = ReadOrigin.Own;
    stamped2(decodeRead, sink, buf.subarray(0, n));
    return;
  }
  const tail = n >= CARRY_FROM_SCRATCH_AT && !sink.decoder.midRequest ? incompleteTail(buf, n, TAIL_SCAN_HEADERS) : -1;
  if (tail < 0) {
    sink.origin = ReadOrigin.Arena;
    stamped2(decodeRead, sink, clientArena.copyIn(buf, n));
  } else {
    splitAt = tail;
    stamped2(decodeRead, sink, buf.subarray(0, n));
  }
}

/** Decodes one read (its origin set); afterwards no read is being decoded. */
function decodeRead(sink: ReadSink, bytes: Buffer): void {
  try {
    pushRead(sink.decoder, sink, bytes);
  } finally {
    sink.origin = ReadOrigin.None;
    splitAt = -1;
  }
}
