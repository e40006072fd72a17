/** Proxy config sections about the Redis servers behind it: connections, dedicated connections, MIGRATE. */
import { Type } from 'typebox';
import { invalidConfig } from '../../shared/config.js';
import { Bool, Duration, Int, Section, Size, Str } from '../../shared/config/knobs.js';
import { withoutKeys } from '../../shared/config/validate.js';
import { secretValue } from '../../shared/secrets.js';
import { parseTlsClient } from '../../shared/tls/config.js';
import { TlsClientKnobs } from '../../shared/tls/schema.js';

export const BackendKnobs = Type.Decode(
  Section(
    {
      connectionsPerServer: Int(1, 1, 64, 'pipelined connections per (server, db); a client sticks to one of them'),
      dialTimeoutMs: Duration('3s', 'connect + AUTH/SELECT toward a Redis server', { from: 'dialTimeout' }),
      backoffMinMs: Duration('50ms', 'reconnect backoff, first wait (doubling); while a server is down its commands fail fast', { from: 'backoffMin' }),
      backoffMaxMs: Duration('5s', 'reconnect backoff, longest wait (at least backoffMin)', { from: 'backoffMax' }),
      replyTimeoutMs: Duration('30s', 'a connection with pending requests and no reply for this long is reset', { from: 'replyTimeout' }),
      keepAliveMs: Duration('75s', 'TCP keep-alive', { from: 'keepAlive' }),
      streamRepliesFromBytes: Size('64kb', "a reply at least this big goes to its client in pieces as it arrives from the server, instead of whole once complete, when no earlier reply of that client is still awaited (less memory and latency for big values; a client whose server connection breaks mid-reply is disconnected); 0 = never", { from: 'streamRepliesFrom' }),
      user: Str('', 'AUTH user toward the Redis servers (ACL user optional; also used for `MIGRATE ... AUTH2`)'),
      password: Str('', 'AUTH password toward the Redis servers', { secret: true }),
      passwordFile: Str('', 'read the backend password from this file instead (never on argv)'),
      maxDedicated: Int(1000, 1, 1_000_000, 'dedicated connections per proxy process (WATCH/MULTI, blocked commands, Pub/Sub subscribers); beyond, such commands get an error (never the shared ones)'),
      maxDedicatedPerServer: Int(1000, 1, 1_000_000, 'the same cap per backend server'),
      dedicatedIdleMs: Duration('30s', 'a clean dedicated connection is kept this long for reuse (0 = close at once)', { from: 'dedicatedIdle' }),
      tls: TlsClientKnobs('TLS toward the Redis servers', { servername: true }),
    },
    'connections toward the Redis servers',
  ),
  (b) => {
    if (b.backoffMaxMs < b.backoffMinMs) {
      throw invalidConfig('backend.backoffMax must be >= backend.backoffMin');
    }
    return { ...withoutKeys(b, 'passwordFile'), password: secretValue(b, 'password', 'backend.password'), tls: parseTlsClient(b.tls, 'backend.tls') };
  },
);

export const MigrateKnobs = Section(
  {
    timeoutMs: Duration('3s', 'MIGRATE timeout for migrate-on-access', { from: 'timeout' }),
    sourceFirst: Bool(true, 'a command of a migrating slot whose keys are all still on the source runs there in one EVALSHA (no MIGRATE on the client path); `false` = always MIGRATE the keys, then run on the target (see [Migration and rebalancing](migration.md))'),
    bigKeyBytes: Size('8mb', 'a key larger than this (MEMORY USAGE) is not MIGRATEd on the client path: the command gets `-TRYAGAIN` (`REDSLOT_ERR_MIGRATE_BIG_KEY`) and the background mover moves the key alone; `0` = no limit'),
  },
  'migrate-on-access',
);
