/** Byte-level ASCII helpers for the hot path (no string conversion). */

/** `a` equals `lower` (given in lower case) ignoring ASCII case: `BLOCK`, `Block` and `block` all match. */
export function equalsIgnoreCase(a: Buffer, lower: Buffer): boolean {
  if (a.length !== lower.length) return false;
  for (let i = 0; i < a.length; i++) if ((a[i]! | 0x20) !== lower[i]) return false;
  return true;
}
