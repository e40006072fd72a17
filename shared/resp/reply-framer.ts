/**
 * Finds reply boundaries in a backend byte stream without decoding, so a reply can be forwarded
 * byte-for-byte (`+OK` stays `+OK`, `$-1` stays `$-1`, RESP3 types pass untouched).
 *
 * RESP2 and RESP3 types: simple `+ - : _ , # (` (one line), blob `$ ! =` (length line + bytes + CRLF),
 * aggregates `* ~ >` (N elements), `%` (N pairs), `|` (attribute: N pairs that precede the real value).
 * Nesting needs no stack: `pending` counts the elements still missing from the current top-level reply; an
 * aggregate header replaces itself by its children (`pending += n - 1`).
 *
 * A reply inside one chunk is emitted as a view of it. One spanning chunks is a view too when the chunks are
 * adjacent in memory (reads into one slab, proxy/backend/read-slab.ts), else it is concatenated once, when
 * its last byte has arrived. Backends are trusted, but malformed input still fails cleanly (`onFramingError`).
 *
 * Streaming (`streamAt` > 0): a reply left unfinished at the end of a chunk whose size (known, or so far) is
 * at least `streamAt` bytes is passed on in parts instead (onFramePart: what arrived so far, then each
 * chunk's share, the last part flagged), when the handler says its reader takes parts now (streamReply).
 * Nothing of it is held or assembled then, whatever its size.
 */
import { ViewMaker } from './views.js';

export interface FrameHandler {
  /** `copied`: the frame is a buffer of its own (pieces concatenated), not a view of the chunk last pushed. */
  onFrame(frame: Buffer, copied: boolean): void;
  onFramingError(message: string): void;
  /** The reply being received may go on in parts (its reader takes them now); asked once per chunk end until yes. */
  streamReply?(): boolean;
  /** A part of the reply being streamed, in order; `last`: it completes the reply. */
  onFramePart?(part: Buffer, last: boolean): void;
}

const CR = 13;
const LF = 10;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

const enum St {
  Type,
  Line,
  Len,
  LenLf,
  Blob,
  Dead,
}

const enum Kind {
  Blob,
  Array,
  Map,
  Attribute,
}

/** Per type byte: 1 = line type, 2 = blob, 3 = array-like, 4 = map, 5 = attribute, 0 = invalid. */
const TYPE_CLASS = new Uint8Array(256);
for (const c of '+-:_,#(') TYPE_CLASS[c.charCodeAt(0)] = 1;
for (const c of '$!=') TYPE_CLASS[c.charCodeAt(0)] = 2;
for (const c of '*~>') TYPE_CLASS[c.charCodeAt(0)] = 3;
TYPE_CLASS['%'.charCodeAt(0)] = 4;
TYPE_CLASS['|'.charCodeAt(0)] = 5;

/** One view of `a` then `b` when `b` starts right where `a` ends in the same memory, else null. */
function adjacentJoin(a: Buffer, b: Buffer): Buffer | null {
  if (a.buffer !== b.buffer || a.byteOffset + a.length !== b.byteOffset) return null;
  return Buffer.from(a.buffer, a.byteOffset, a.length + b.length);
}

/** Views of the replies of a chunk (many per read; one ArrayBuffer lookup per read). One chunk is framed at a time. */
const FRAME_VIEWS = new ViewMaker();

export class ReplyFramer {
  private state: St = St.Type;
  /** Elements still missing from the current top-level reply (0 = between replies). */
  private pending = 0;
  private kind: Kind = Kind.Blob;
  private num = 0;
  private neg = false;
  private digits = 0;
  private blobLeft = 0;
  private pieces: Buffer[] | null = null;
  private piecesLen = 0;
  /** The current reply is being passed on in parts (onFramePart). */
  private streaming = false;

  constructor(
    private readonly handler: FrameHandler,
    /** Replies from this many bytes are streamed when the handler agrees; 0 = never. */
    private readonly streamAt = 0,
  ) {}

  /** Bytes of a partially received reply held right now. */
  get bufferedBytes(): number {
    return this.piecesLen;
  }

  /**
   * Bytes still to come before the held reply is complete, when known: the rest of a bulk string that is
   * the reply's last element (data and CRLF). 0 when unknown or nothing is held.
   */
  get bytesToFinish(): number {
    return this.state === St.Blob && this.pending === 1 && !this.streaming ? this.blobLeft : 0;
  }

  /** A reply is being passed on in parts. */
  get isStreaming(): boolean {
    return this.streaming;
  }

  /**
   * Copies the held bytes of the unfinished reply to the start of `dst` (at least bufferedBytes long) and
   * holds them from there (the reader moved them so that the reply stays contiguous); returns how many.
   */
  moveHeldInto(dst: Buffer): number {
    const pieces = this.pieces;
    if (pieces === null) return 0;
    let at = 0;
    for (let i = 0; i < pieces.length; i++) {
      dst.set(pieces[i]!, at);
      at += pieces[i]!.length;
    }
    this.pieces = [dst.subarray(0, at)];
    return at;
  }

  /** Whether some held bytes of the unfinished reply lie in `memory` (the read slab's pinning). */
  holdsIn(memory: ArrayBufferLike): boolean {
    const pieces = this.pieces;
    if (pieces === null) return false;
    for (let i = 0; i < pieces.length; i++) if (pieces[i]!.buffer === memory) return true;
    return false;
  }

  reset(): void {
    this.state = St.Type;
    this.pending = 0;
    this.pieces = null;
    this.piecesLen = 0;
    this.streaming = false;
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    /** Start of the current reply in this chunk, or -1 when it began in an earlier chunk. */
    let start = this.pending === 0 && this.state === St.Type ? 0 : -1;
    while (pos < len) {
      switch (this.state) {
        case St.Type: {
          if (this.pending === 0) {
            start = pos;
            this.pending = 1;
          }
          const c = chunk[pos]!;
          const cls = TYPE_CLASS[c]!;
          pos++;
          if (cls === 1) {
            this.state = St.Line;
          } else if (cls === 0) {
            return this.fail(`unexpected type byte 0x${c.toString(16)}`);
          } else {
            this.kind = cls === 2 ? Kind.Blob : cls === 3 ? Kind.Array : cls === 4 ? Kind.Map : Kind.Attribute;
            this.num = 0;
            this.neg = false;
            this.digits = 0;
            this.state = St.Len;
          }
          break;
        }
        case St.Line: {
          const nl = chunk.indexOf(LF, pos);
          if (nl < 0) {
            pos = len;
            break;
          }
          pos = nl + 1;
          this.state = St.Type;
          if (--this.pending === 0) start = this.emit(chunk, start, pos);
          break;
        }
        case St.Len: {
          for (;;) {
            if (pos >= len) break;
            const c = chunk[pos]!;
            if (c >= ZERO && c <= NINE) {
              this.num = this.num * 10 + (c - ZERO);
              if (++this.digits > 18) return this.fail('length too long');
              pos++;
            } else if (c === CR) {
              pos++;
              this.state = St.LenLf;
              break;
            } else if (c === MINUS && this.digits === 0 && !this.neg) {
              this.neg = true;
              pos++;
            } else {
              return this.fail(`invalid length byte 0x${c.toString(16)}`);
            }
          }
          break;
        }
        case St.LenLf: {
          pos++;
          if (this.digits === 0) return this.fail('empty length');
          const n = this.neg ? -this.num : this.num;
          this.state = St.Type;
          if (this.kind === Kind.Blob) {
            if (n >= 0) {
              this.blobLeft = n + 2;
              this.state = St.Blob;
              break;
            }
            if (--this.pending === 0) start = this.emit(chunk, start, pos); // $-1 (RESP2 null)
          } else if (n < 0) {
            if (--this.pending === 0) start = this.emit(chunk, start, pos); // *-1 (RESP2 null array)
          } else if (this.kind === Kind.Array) {
            this.pending += n - 1;
            if (this.pending === 0) start = this.emit(chunk, start, pos);
          } else if (this.kind === Kind.Map) {
            this.pending += 2 * n - 1;
            if (this.pending === 0) start = this.emit(chunk, start, pos);
          } else {
            this.pending += 2 * n; // attribute: its pairs, then the value it annotates
          }
          break;
        }
        case St.Blob: {
          const avail = len - pos;
          if (avail < this.blobLeft) {
            this.blobLeft -= avail;
            pos = len;
            break;
          }
          pos += this.blobLeft;
          this.blobLeft = 0;
          this.state = St.Type;
          if (--this.pending === 0) start = this.emit(chunk, start, pos);
          break;
        }
        case St.Dead:
          return;
      }
    }
    // Keep the unfinished reply's bytes for the next chunk, or pass them on.
    if (this.pending > 0) {
      const rest = start >= 0 ? chunk.subarray(start) : chunk;
      if (this.streaming) return this.handler.onFramePart!(rest, false);
      if (this.streamAt > 0 && this.worthStreaming(rest.length) && this.handler.streamReply!()) return this.startStream(rest);
      if (this.pieces === null) this.pieces = [rest];
      else {
        const last = this.pieces.length - 1;
        const joined = adjacentJoin(this.pieces[last]!, rest);
        if (joined !== null) this.pieces[last] = joined;
        else this.pieces.push(rest);
      }
      this.piecesLen += rest.length;
    }
  }

  /** The unfinished reply, `more` bytes of it in this chunk, is (or will be) at least streamAt bytes. */
  private worthStreaming(more: number): boolean {
    const toCome = this.state === St.Blob && this.pending === 1 ? this.blobLeft : 0;
    return this.piecesLen + more + toCome >= this.streamAt;
  }

  /** From now on the unfinished reply goes on in parts: what is held, then `rest`. */
  private startStream(rest: Buffer): void {
    this.streaming = true;
    const pieces = this.pieces;
    this.pieces = null;
    this.piecesLen = 0;
    if (pieces !== null) {
      const last = pieces.length - 1;
      const joined = adjacentJoin(pieces[last]!, rest);
      for (let i = 0; i < last; i++) this.handler.onFramePart!(pieces[i]!, false);
      if (joined !== null) return this.handler.onFramePart!(joined, false);
      this.handler.onFramePart!(pieces[last]!, false);
    }
    this.handler.onFramePart!(rest, false);
  }

  /** Emits the reply ending at `end`; returns the next reply's start. */
  private emit(chunk: Buffer, start: number, end: number): number {
    if (this.streaming) {
      // Its earlier parts went on: this chunk holds the rest (the reply began in an earlier one).
      this.streaming = false;
      this.handler.onFramePart!(chunk.subarray(0, end), true);
      return end;
    }
    let frame: Buffer;
    let copied = false;
    if (this.pieces === null) {
      // A chunk that is exactly one reply is the frame as it is: no view more.
      if (start === 0 && end === chunk.length) frame = chunk;
      else {
        frame = FRAME_VIEWS.view(chunk, start, end);
        if (end === chunk.length) FRAME_VIEWS.forget(); // the chunk's last reply: it is not kept past its read
      }
    } else {
      const tail = chunk.subarray(0, end);
      const joined = this.pieces.length === 1 ? adjacentJoin(this.pieces[0]!, tail) : null;
      if (joined !== null) frame = joined;
      else {
        this.pieces.push(tail);
        frame = Buffer.concat(this.pieces, this.piecesLen + end);
        copied = true;
      }
      this.pieces = null;
      this.piecesLen = 0;
    }
    this.handler.onFrame(frame, copied);
    return end;
  }

  private fail(message: string): void {
    this.state = St.Dead;
    this.pieces = null;
    this.piecesLen = 0;
    this.streaming = false;
    this.handler.onFramingError(message);
  }
}
