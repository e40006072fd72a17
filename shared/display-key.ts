/**
 * Keys are raw bytes everywhere (migration code, migrate-on-access). This is the one place they become text: for logs,
 * progress reports and error messages (printable ASCII as is, everything else as \xHH, long keys cut).
 */

const MAX_SHOWN = 200;

export function displayKey(key: Buffer): string {
  let out = '';
  const n = Math.min(key.length, MAX_SHOWN);
  for (let i = 0; i < n; i++) {
    const b = key[i]!;
    if (b >= 0x20 && b < 0x7f && b !== 0x5c) out += String.fromCharCode(b);
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  if (key.length > MAX_SHOWN) out += `...(${key.length} bytes)`;
  return out;
}
