/**
 * A multibulk request's arguments as offsets into its raw bytes instead of one Buffer view per argument
 * (RequestDecoder's fast path, RequestHandler.onRequestSpans): a view costs ~40 ns and garbage, and the hot
 * commands need few of them (the name is looked up, keys hashed, runs of arguments copied, all from offsets).
 *
 * For argument i of `count`: its `$<len>\r\n` header starts at head[i], its data at data[i] and ends at
 * head[i + 1] - 2 (head[count] = raw.length). Offsets are relative to the raw bytes handed with them.
 * The arrays are the decoder's scratch, rewritten by the next request: read them during the call only.
 */
export interface RequestSpans {
  count: number;
  /** count + 1 entries used: where each argument's header starts; head[count] = the request's length. */
  head: Int32Array;
  /** count entries used: where each argument's data starts. */
  data: Int32Array;
}

/** End (exclusive) of argument i's data. */
export function spanEnd(s: RequestSpans, i: number): number {
  return s.head[i + 1]! - 2;
}

/** The argv views the spans describe (a path that needs Buffers: what the decoder would have made). */
export function argvOfSpans(raw: Buffer, s: RequestSpans): Buffer[] {
  const n = s.count;
  const argv = new Array<Buffer>(n);
  const head = s.head;
  const data = s.data;
  for (let i = 0; i < n; i++) argv[i] = raw.subarray(data[i]!, head[i + 1]! - 2);
  return argv;
}

/** Fresh spans with room for `args` arguments. */
export function newSpans(args: number): RequestSpans {
  return { count: 0, head: new Int32Array(args + 1), data: new Int32Array(args) };
}
