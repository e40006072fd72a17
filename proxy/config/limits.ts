/** Proxy config sections that bound what one client can cost: client limits and guards (docs/guards.md). */
import { Type } from 'typebox';
import { parseIntInRange, parseSize } from '../../shared/config.js';
import { Duration, Int, Section, Size } from '../../shared/config/knobs.js';

export const LimitsKnobs = Section(
  {
    maxClients: Int(1000, 1, 10_000_000, 'beyond it: `-ERR max number of clients reached`, then close'),
    maxPipeline: Int(10000, 1, 10_000_000, 'requests in flight per client before its socket is paused (backpressure, not an error)'),
    idleTimeoutMs: Duration('0', 'close clients idle this long (0 = never, like Redis; Codis uses 30m)', { from: 'idleTimeout' }),
    maxBulkBytes: Size('512mb', "largest bulk string in a request (keep it <= the backends' proto-max-bulk-len)"),
    maxArrayLength: Int(1048576, 1, 2 ** 31 - 1, 'most arguments per request'),
    maxInlineBytes: Size('64kb', 'longest inline request (`PING\\r\\n`, telnet)'),
    maxClientOutputBytes: Size('1gb', "replies buffered for a client that does not read them; beyond, it is disconnected (Redis's client-output-buffer-limit); 0 = unlimited", { from: 'maxClientOutput' }),
    slabPoolBytes: Size('128mb', 'free read buffers kept for reuse after a burst, per buffer size (the 128 KB read slabs keep a quarter of it); what a second of load did not need is freed each second; 0 = keep none (every buffer is left to the GC: more full GCs under load with big values)'),
  },
  'client limits',
);

/** "<hard> <soft> <seconds>" like Redis's client-output-buffer-limit pubsub. */
const PubsubOutput = Type.Decode(
  Type.String({
    pattern: '^\\s*\\S+\\s+\\S+\\s+\\S+\\s*$',
    default: '32mb 8mb 60',
    description: "a subscriber's unread output: hard limit, soft limit, seconds (Redis `client-output-buffer-limit pubsub`); a subscriber not reading for the seconds is closed too (its backend subscriber connections are not read meanwhile). Other clients: `limits.maxClientOutput`",
    expected: '"<hard> <soft> <seconds>", e.g. "32mb 8mb 60"',
  }),
  (v) => {
    const [hard, soft, seconds] = v.trim().split(/\s+/);
    return {
      hardBytes: parseSize(hard, 'guard.pubsubOutput hard limit'),
      softBytes: parseSize(soft, 'guard.pubsubOutput soft limit'),
      softSeconds: parseIntInRange(seconds, 'guard.pubsubOutput seconds', 0, 2 ** 31 - 1),
    };
  },
);

export const GuardKnobs = Section(
  {
    holdTimeoutMs: Duration('5s', 'a request held for a locked slot (migration step, promotion) longer than this gets `-TRYAGAIN` (0 = wait forever); see [Guards](guards.md)', { from: 'holdTimeout' }),
    drainTimeoutMs: Duration('60s', 'a topology change stops waiting for requests still running under old routes after this, logs them (`proxy.drain_timeout`) and acknowledges (0 = wait forever)', { from: 'drainTimeout' }),
    maxQueryBufferBytes: Size('1gb', "bytes of one client's request being decoded plus its held requests (Redis `client-query-buffer-limit`); beyond: protocol error, connection closed", { from: 'maxQueryBuffer' }),
    maxClientsMemoryBytes: Size('0', "all clients' buffered requests and replies together; beyond, the biggest clients are closed (Redis `maxmemory-clients`; 0 = no cap; `CLIENT NO-EVICT on` exempts a client)", { from: 'maxClientsMemory' }),
    pubsubOutput: PubsubOutput,
    maxMultiBytes: Size('256mb', 'commands queued after MULTI; beyond, the transaction is discarded (EXEC answers EXECABORT)'),
    maxMergedReplyBytes: Size('512mb', "a reply merged from every group (KEYS, ...), checked as each group's reply arrives", { from: 'maxMergedReply' }),
  },
  'no client can wedge a group, a proxy or the control plane (docs/guards.md)',
);
