/**
 * The proxy's slow log (proxy/local/slowlog.ts) keeps arguments cut as Redis cuts them (32 arguments, 128 bytes
 * each), as copies: the request's own bytes may be reused once it is answered.
 */
import { describe, expect, it } from 'vitest';
import { SlowLog } from '../../proxy/local/slowlog.js';
import { arrayElements, bulkValue, readInteger } from '../../shared/resp/reply-reader.js';

describe('SlowLog', () => {
  it('cuts long arguments and long argument lists like Redis, and keeps copies', () => {
    const log = new SlowLog(0, 4);
    const big = Buffer.alloc(16_384, 0x61);
    const argv = [Buffer.from('MSET'), Buffer.from('k'), big, ...Array.from({ length: 40 }, (_, i) => Buffer.from(`a${i}`))];
    log.add(argv, 12_345.6, '127.0.0.1:5', 'backend=x');
    big.fill(0x62); // the request's bytes reused: the log must not change
    argv[1]!.fill(0x7a);
    const entry = arrayElements(arrayElements(log.get(-1))![0]!)!;
    const args = arrayElements(entry[3]!)!.map((a) => bulkValue(a)!.toString('latin1'));
    expect(args.length).toBe(32);
    expect(args[0]).toBe('MSET');
    expect(args[1]).toBe('k');
    expect(args[2]).toBe(`${'a'.repeat(128)}... (${16_384 - 128} more bytes)`);
    expect(args[3]).toBe('a0');
    expect(args[30]).toBe('a27');
    expect(args[31]).toBe(`... (${argv.length - 31} more arguments)`);
    expect(readInteger(entry[2]!)).toBe(12_346);
  });
});

describe('SlowLog ring', () => {
  it('keeps the newest maxLen entries, newest first; GET count; LEN; RESET', () => {
    const log = new SlowLog(0, 3);
    const idsOf = (reply: Buffer) => arrayElements(reply)!.map((e) => readInteger(arrayElements(e)![0]!));
    const argOf = (reply: Buffer) => arrayElements(reply)!.map((e) => bulkValue(arrayElements(arrayElements(e)![3]!)![1]!)!.toString());
    for (let i = 0; i < 5; i++) log.add([Buffer.from('GET'), Buffer.from(`k${i}`)], 20_000, 'c', 'n');
    expect(log.length).toBe(3);
    expect(idsOf(log.get(-1))).toEqual([4, 3, 2]);
    expect(argOf(log.get(2))).toEqual(['k4', 'k3']);
    expect(idsOf(log.get(10))).toEqual([4, 3, 2]);
    expect(idsOf(log.get(0))).toEqual([]);
    log.reset();
    expect(log.length).toBe(0);
    expect(idsOf(log.get(-1))).toEqual([]);
    log.add([Buffer.from('PING')], 1, 'c', 'n');
    expect(idsOf(log.get(-1))).toEqual([5]);
  });
});
