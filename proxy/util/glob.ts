/**
 * Redis's stringmatchlen (util.c) on raw bytes: `*`, `?`, `[abc]`, `[^a-z]`, `\x`. Case-insensitive for
 * COMMAND LIST FILTERBY PATTERN, case-sensitive for ACL key and channel patterns (as in Redis).
 */

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
const same = (c: number): number => c;

export function globMatch(p: Buffer, s: Buffer, nocase = true): boolean {
  return match(p, s, 0, 0, nocase ? lower : same);
}

function match(p: Buffer, s: Buffer, pi: number, si: number, fold: (c: number) => number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === 0x2a) {
      while (pi + 1 < p.length && p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (match(p, s, pi + 1, k, fold)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === 0x3f) {
      si++;
      pi++;
      continue;
    }
    if (c === 0x5b) {
      let j = pi + 1;
      const not = p[j] === 0x5e;
      if (not) j++;
      let matched = false;
      for (; j < p.length && p[j] !== 0x5d; j++) {
        if (p[j] === 0x5c && j + 1 < p.length) {
          j++;
          if (fold(p[j]!) === fold(s[si]!)) matched = true;
        } else if (j + 2 < p.length && p[j + 1] === 0x2d && p[j + 2] !== 0x5d) {
          let lo = fold(p[j]!);
          let hi = fold(p[j + 2]!);
          if (lo > hi) [lo, hi] = [hi, lo];
          const x = fold(s[si]!);
          if (x >= lo && x <= hi) matched = true;
          j += 2;
        } else if (fold(p[j]!) === fold(s[si]!)) matched = true;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      pi = j < p.length ? j + 1 : j;
      si++;
      continue;
    }
    let lit = c;
    if (c === 0x5c && pi + 1 < p.length) lit = p[++pi]!;
    if (fold(lit) !== fold(s[si]!)) return false;
    pi++;
    si++;
  }
  return si === s.length;
}
