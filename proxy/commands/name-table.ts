/**
 * Case-insensitive lookup of ASCII names given as raw bytes, without allocating: FNV-1a over lower-cased
 * bytes into an open-addressing table (load <= 1/4), then a byte-wise compare with the stored lower-case name.
 * A name containing a byte that no stored name has (NUL, non-ASCII) simply never matches.
 */
import { LOWER } from './keys.js';

export class NameTable<T> {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly names: Buffer[] = [];
  private readonly values: T[] = [];
  private maxLen = 0;

  constructor(entries: ReadonlyArray<readonly [string, T]>) {
    let size = 8;
    while (size < entries.length * 4) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (const [name, value] of entries) {
      const lower = Buffer.from(name.toLowerCase(), 'latin1');
      if (this.get(lower) !== undefined) throw new Error(`duplicate name ${name}`);
      let h = hash(lower, 0, lower.length) & this.mask;
      while (this.slots[h] !== -1) h = (h + 1) & this.mask;
      this.slots[h] = this.names.length;
      this.names.push(lower);
      this.values.push(value);
      this.maxLen = Math.max(this.maxLen, lower.length);
    }
  }

  get(name: Buffer): T | undefined {
    return this.getAt(name, 0, name.length);
  }

  /** get() of the name at buf[start, end) (no view made). */
  getAt(buf: Buffer, start: number, end: number): T | undefined {
    const n = end - start;
    if (n <= 0 || n > this.maxLen) return undefined;
    let h = hash(buf, start, end) & this.mask;
    for (;;) {
      const at = this.slots[h]!;
      if (at === -1) return undefined;
      const stored = this.names[at]!;
      if (stored.length === n) {
        let i = 0;
        while (i < n && LOWER[buf[start + i]!] === stored[i]) i++;
        if (i === n) return this.values[at];
      }
      h = (h + 1) & this.mask;
    }
  }
}

function hash(b: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ LOWER[b[i]!]!, 0x01000193);
  return h >>> 0;
}
