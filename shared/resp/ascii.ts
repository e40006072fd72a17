/** Bytes the RESP scanners look for (the request decoder, its fast path, incomplete-tail.ts, array-pieces.ts). */
export const CR = 13;
export const LF = 10;
export const MINUS = 45;
export const ZERO = 48;
export const NINE = 57;
export const STAR = 42;
export const DOLLAR = 36;
