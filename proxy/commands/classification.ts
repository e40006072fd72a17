/**
 * redslot's policy for every Redis 7 command: how it is routed, or why it is refused. Hand-written and kept
 * apart from the generated Redis data (`redis7-commands.json`), so regenerating never loses a decision.
 *
 * Every command of the data file must appear in exactly one category below (a unit test pins it). A command
 * that is in no category - e.g. one a newer Redis adds - is refused by default with DEFAULT_REFUSAL until
 * someone classifies it deliberately.
 */
import type { RouteShape } from './spec.js';

export interface Category {
  readonly route: RouteShape;
  /** For refused categories: why, in words a client can act on. Shown after "command 'x' is not supported ...". */
  readonly reason?: string;
  /** Refused for good (not "yet"): it cannot be made correct behind a proxy. */
  readonly permanent?: boolean;
  readonly commands: readonly string[];
}

export const CATEGORIES = {
  // ---- answered by the proxy itself ----
  local: {
    route: 'local',
    commands: ['ping', 'echo', 'quit', 'auth', 'select', 'hello', 'command'],
  },
  // CLIENT is about the proxy's own clients (proxy/local/client.ts), never forwarded.
  clients: { route: 'local', commands: ['client'] },
  // SLOWLOG answers from the proxy's own slow log (end-to-end latency; proxy/local/slowlog.ts).
  slowlog: { route: 'local', commands: ['slowlog'] },
  clientPause: {
    route: 'refused',
    reason: 'pausing clients would have to hold every proxy\'s clients; pause the backends directly',
    commands: ['client|pause', 'client|unpause'],
  },
  clientTracking: {
    route: 'refused',
    reason: 'client-side caching needs invalidation messages from every group on a dedicated connection',
    commands: ['client|tracking', 'client|caching', 'client|getredir', 'client|trackinginfo'],
  },

  // ACL about the proxy's own users (proxy/local/acl.ts); the users themselves are configuration.
  aclIntrospection: { route: 'local', commands: ['acl|whoami', 'acl|list', 'acl|users', 'acl|cat'] },
  aclChange: {
    route: 'refused',
    reason: "the proxy's users come from its configuration (acl.users, acl.file); Redis's own users are administered on the backends",
    commands: ['acl'],
  },

  // ---- every group's master, replies merged (proxy/router/requests/broadcast.ts) ----
  clusterWide: {
    route: 'all',
    commands: ['dbsize', 'flushall', 'flushdb', 'keys', 'randomkey', 'info', 'script', 'function', 'config|set',
      'config|resetstat', 'config|rewrite'],
  },
  // ---- one master: the one serving slot 0 ----
  oneMaster: {
    route: 'one',
    commands: ['time', 'config', 'script|help', 'function|list', 'function|dump', 'function|stats', 'function|help',
      'memory|help'],
  },
  scan: { route: 'scan', commands: ['scan'] },
  scriptDebug: {
    route: 'refused',
    reason: 'the Lua debugger needs a session on one server\'s connection',
    commands: ['script|debug'],
  },
  memoryUsage: { route: 'single', commands: ['memory|usage'] },

  // READONLY / READWRITE: replica reads for this connection (proxy/local/basic.ts), as with Redis Cluster.
  replicaReads: { route: 'local', commands: ['readonly', 'readwrite'] },

  // RESET leaves MULTI and Pub/Sub and resets the client's state in the proxy (proxy/local/basic.ts).
  connectionReset: { route: 'local', commands: ['reset'] },

  // ---- multi-key fan-out by group ----
  mget: { route: 'mget', commands: ['mget'] },
  mset: { route: 'mset', commands: ['mset'] },
  msetnx: { route: 'msetnx', commands: ['msetnx'] },
  sum: { route: 'sum', commands: ['del', 'unlink', 'exists', 'touch'] },

  // ---- routed to the group owning the slot of their keys (all keys must share one slot) ----
  strings: {
    route: 'single',
    commands: ['append', 'decr', 'decrby', 'get', 'getdel', 'getex', 'getrange', 'getset', 'incr', 'incrby',
      'incrbyfloat', 'lcs', 'psetex', 'set', 'setex', 'setnx', 'setrange', 'strlen', 'substr'],
  },
  bitmaps: { route: 'single', commands: ['bitcount', 'bitfield', 'bitfield_ro', 'bitop', 'bitpos', 'getbit', 'setbit'] },
  keys: {
    route: 'single',
    commands: ['copy', 'dump', 'expire', 'expireat', 'expiretime', 'persist', 'pexpire', 'pexpireat', 'pexpiretime',
      'pttl', 'rename', 'renamenx', 'restore', 'sort', 'sort_ro', 'ttl', 'type', 'object'],
  },
  hashes: {
    route: 'single',
    commands: ['hdel', 'hexists', 'hget', 'hgetall', 'hincrby', 'hincrbyfloat', 'hkeys', 'hlen', 'hmget', 'hmset',
      'hrandfield', 'hscan', 'hset', 'hsetnx', 'hstrlen', 'hvals'],
  },
  lists: {
    route: 'single',
    commands: ['lindex', 'linsert', 'llen', 'lmove', 'lmpop', 'lpop', 'lpos', 'lpush', 'lpushx', 'lrange', 'lrem',
      'lset', 'ltrim', 'rpop', 'rpoplpush', 'rpush', 'rpushx'],
  },
  sets: {
    route: 'single',
    commands: ['sadd', 'scard', 'sdiff', 'sdiffstore', 'sinter', 'sintercard', 'sinterstore', 'sismember', 'smembers',
      'smismember', 'smove', 'spop', 'srandmember', 'srem', 'sscan', 'sunion', 'sunionstore'],
  },
  sortedSets: {
    route: 'single',
    commands: ['zadd', 'zcard', 'zcount', 'zdiff', 'zdiffstore', 'zincrby', 'zinter', 'zintercard', 'zinterstore',
      'zlexcount', 'zmpop', 'zmscore', 'zpopmax', 'zpopmin', 'zrandmember', 'zrange', 'zrangebylex', 'zrangebyscore',
      'zrangestore', 'zrank', 'zrem', 'zremrangebylex', 'zremrangebyrank', 'zremrangebyscore', 'zrevrange',
      'zrevrangebylex', 'zrevrangebyscore', 'zrevrank', 'zscan', 'zscore', 'zunion', 'zunionstore'],
  },
  geo: {
    route: 'single',
    commands: ['geoadd', 'geodist', 'geohash', 'geopos', 'georadius', 'georadius_ro', 'georadiusbymember',
      'georadiusbymember_ro', 'geosearch', 'geosearchstore'],
  },
  hyperloglog: { route: 'single', commands: ['pfadd', 'pfcount', 'pfmerge'] },
  streams: {
    route: 'single',
    commands: ['xack', 'xadd', 'xautoclaim', 'xclaim', 'xdel', 'xgroup', 'xinfo', 'xlen', 'xpending', 'xrange',
      'xrevrange', 'xsetid', 'xtrim'],
  },
  scripts: {
    // Routed by their declared keys like Redis Cluster does; a script must only touch the keys it declares.
    // Keyless: the group serving slot 0. Bodies are cached by the proxy (proxy/scripts/), so EVALSHA finds
    // its script on whichever group the keys live.
    route: 'script',
    commands: ['eval', 'eval_ro', 'evalsha', 'evalsha_ro', 'fcall', 'fcall_ro'],
  },

  // ---- refused ----
  // ---- dedicated backend connections (proxy/dedicated/) ----
  transactions: {
    // Every key of the transaction (and of WATCH) in one slot; queued in the proxy, run as one batch at EXEC.
    route: 'transaction',
    commands: ['multi', 'exec', 'discard', 'watch', 'unwatch'],
  },
  blocking: {
    // One dedicated connection per blocked client (proxy/dedicated/blocking.ts); XREAD without BLOCK is a
    // plain single-slot read; WAIT runs on every master.
    route: 'blocking',
    commands: ['blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'bzpopmin', 'bzpopmax', 'bzmpop', 'xread', 'xreadgroup',
      'wait'],
  },
  pubsub: {
    // Channels by the slot of their name, patterns on every group (proxy/dedicated/pubsub.ts).
    route: 'pubsub',
    commands: ['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'publish',
      'spublish', 'pubsub'],
  },
  connectionState: {
    route: 'refused',
    reason: 'it acts on connection state, and backend connections are shared by many clients',
    commands: ['monitor'],
  },
  perServer: {
    route: 'refused',
    reason: 'it is keyless and answers for one server, but the keyspace is spread over groups (needs every group)',
    commands: ['lastsave', 'role', 'lolwut'],
  },
  latency: {
    route: 'refused',
    reason: "its figures are one server's event loop; the proxy's own latency is in SLOWLOG and in the redslot_proxy_downstream_rq_duration_seconds metric",
    commands: ['latency'],
  },
  memory: {
    route: 'refused',
    reason: 'it answers for one server\'s allocator, but the keyspace is spread over groups (MEMORY USAGE is supported)',
    commands: ['memory'],
  },
  administration: {
    route: 'refused',
    reason: 'server administration must go to the backends directly, not through the proxy',
    commands: ['module', 'debug', 'shutdown', 'save', 'bgsave', 'bgrewriteaof', 'failover',
      'replicaof', 'slaveof', 'pfdebug', 'pfselftest'],
  },
  crossDatabase: {
    route: 'refused',
    reason: 'it moves data between databases or servers outside redslot\'s slot migration',
    commands: ['move', 'swapdb', 'migrate'],
  },
  replication: {
    route: 'refused',
    reason: 'replication protocol between Redis servers; clients never send it',
    permanent: true,
    commands: ['sync', 'psync', 'replconf'],
  },
  cluster: {
    route: 'refused',
    reason: 'Redis Cluster protocol; redslot presents one Redis server, not a Redis Cluster',
    permanent: true,
    commands: ['cluster', 'asking', 'restore-asking'],
  },
} as const satisfies Record<string, Category>;

export type CategoryName = keyof typeof CATEGORIES;

export const DEFAULT_REFUSAL = 'it is not classified by redslot (unknown commands are refused by default)';

/** Extra words for the docs/commands.md table, beyond what is derived from the key specs. */
export const NOTES: Readonly<Record<string, string>> = {
  sort: 'BY/GET patterns read only the group that owns the sorted key',
  readonly: "this connection's read-only single-slot commands may be served by a replica of the slot's group (link up, lag under replicaMaxLag)",
  readwrite: 'this connection reads from masters again',
  eval: 'the script must only touch its declared keys; no keys: the group serving slot 0',
  eval_ro: 'the script must only touch its declared keys; no keys: the group serving slot 0',
  evalsha: 'the script must only touch its declared keys; no keys: the group serving slot 0; a script loaded through the proxy never answers NOSCRIPT after slots move',
  evalsha_ro: 'the script must only touch its declared keys; no keys: the group serving slot 0; a script loaded through the proxy never answers NOSCRIPT after slots move',
  fcall: 'functions must only touch their declared keys; no keys: the group serving slot 0',
  fcall_ro: 'functions must only touch their declared keys; no keys: the group serving slot 0',
  dbsize: 'every group, summed',
  flushall: 'every group; commands.refuseDangerous refuses it',
  flushdb: 'every group; commands.refuseDangerous refuses it',
  keys: 'every group, concatenated; commands.refuseDangerous refuses it',
  randomkey: 'a group picked in proportion to its DBSIZE',
  scan: 'every group in turn; the cursor names the group; every key at least once while slots move',
  info: 'proxy sections, plus memory, stats and keyspace summed over groups',
  'script|load': 'every group; the proxy keeps the body',
  'script|exists': 'every group, and-ed (or known to the proxy)',
  'script|flush': 'every group and the proxy\'s cache',
  'script|kill': 'every group; OK if one was running a script',
  'function|load': 'every group',
  'function|delete': 'every group',
  'function|flush': 'every group',
  'function|restore': 'every group',
  'function|kill': 'every group; OK if one was running a function',
  'function|list': 'from the group serving slot 0',
  'function|dump': 'from the group serving slot 0',
  'function|stats': 'from the group serving slot 0',
  'config|get': "from the group serving slot 0; the backends' secrets, file paths and network settings are left out (CONFIG SET of them is refused)",
  'config|set': 'every group; commands.refuseDangerous refuses it',
  'config|resetstat': 'every group; commands.refuseDangerous refuses it',
  'config|rewrite': 'every group; commands.refuseDangerous refuses it',
  time: 'the clock of the group serving slot 0',
  client: 'about the proxy\'s own clients, never forwarded',
  mget: 'fan-out by group, merged in key order',
  mset: 'fan-out by group, not atomic across groups',
  msetnx: 'all keys in one slot (atomicity)',
  del: 'fan-out by group, counts summed, not atomic across groups',
  unlink: 'fan-out by group, counts summed, not atomic across groups',
  exists: 'fan-out by group, counts summed',
  touch: 'fan-out by group, counts summed',
  multi: 'every key of the transaction (and of WATCH) in one slot; queued in the proxy, sent as one MULTI..EXEC batch',
  exec: 'runs the queued commands on the slot\'s group on a dedicated connection; null reply if the slot moved since WATCH',
  watch: 'all keys in one slot, the transaction\'s; pins a dedicated connection until EXEC/DISCARD/UNWATCH',
  subscribe: 'on the group owning the channel\'s slot; one dedicated subscriber connection per group',
  ssubscribe: 'on the group owning the channel\'s slot; one dedicated subscriber connection per group',
  psubscribe: 'on every group; one dedicated subscriber connection per group',
  publish: 'to the group owning the channel\'s slot (where its subscribers are)',
  spublish: 'to the group owning the channel\'s slot',
  pubsub: 'merged over every group (NUMSUB from each channel\'s group)',
  blpop: 'all keys in one slot; a dedicated connection while blocked',
  brpop: 'all keys in one slot; a dedicated connection while blocked',
  brpoplpush: 'both keys in one slot; a dedicated connection while blocked',
  blmove: 'both keys in one slot; a dedicated connection while blocked',
  blmpop: 'all keys in one slot; a dedicated connection while blocked',
  bzpopmin: 'all keys in one slot; a dedicated connection while blocked',
  bzpopmax: 'all keys in one slot; a dedicated connection while blocked',
  bzmpop: 'all keys in one slot; a dedicated connection while blocked',
  wait: 'on every master (each after a write of its own, so it covers every earlier write); the smallest count',
  xread: 'all keys in one slot; with BLOCK a dedicated connection while blocked',
  xreadgroup: 'all keys in one slot; with BLOCK a dedicated connection while blocked',
  reset: 'also leaves MULTI and Pub/Sub and closes their dedicated connections',
  hello: 'RESP2 and RESP3; a RESP3 client\'s commands use backend connections that said HELLO 3',
};

/** The category of each command name (built once). */
export function categoryOf(name: string): { name: CategoryName; category: Category } | undefined {
  return INDEX.get(name);
}

const INDEX = new Map<string, { name: CategoryName; category: Category }>();
for (const [catName, category] of Object.entries(CATEGORIES) as Array<[CategoryName, Category]>) {
  for (const cmd of category.commands) {
    if (INDEX.has(cmd)) throw new Error(`classification: '${cmd}' is in two categories`);
    INDEX.set(cmd, { name: catName, category });
  }
}

export function refusalText(name: string, reason: string, permanent = false): string {
  return `command '${name}' is not supported by redslot${permanent ? '' : ' yet'}: ${reason}`;
}
