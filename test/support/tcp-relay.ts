/**
 * A tiny loopback TCP forwarder for fault tests (the one allowed fake: it stands for the network between a
 * component and etcd). Point the component at `relay.endpoint` instead of the server, then:
 * - close():  drops every connection and stops listening (connection refused) — a hard partition;
 * - reopen(): listens again on the same port; new connections reach the server again;
 * - pause():  keeps connections open but stops moving bytes either way (a silent partition; TCP buffers);
 * - resume(): moves the buffered bytes on.
 * - pauseOpen(): pauses only the connections open now (a slow or congested path of one client) and returns
 *   the function that resumes exactly those; holdNew(true) makes new connections start paused.
 * - swallowRepliesOfNext(n): the next n connections deliver the client's bytes but never its replies (a
 *   request executed whose answer is lost: the caller times out).
 * stop() closes everything for good.
 */
import net from 'node:net';

export interface TcpRelay {
  port: number;
  endpoint: string;
  /** Connections accepted since start. */
  readonly accepted: number;
  close(): Promise<void>;
  reopen(): Promise<void>;
  pause(): void;
  resume(): void;
  pauseOpen(): () => void;
  holdNew(on: boolean): void;
  swallowRepliesOfNext(n: number): void;
  stop(): Promise<void>;
}

export async function startTcpRelay(targetPort: number, targetHost = '127.0.0.1', listenPort = 0): Promise<TcpRelay> {
  const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  let paused = false;
  let holdNew = false;
  let swallow = 0;
  let accepted = 0;
  let server: net.Server | undefined;
  let port = listenPort;

  const onConnection = (client: net.Socket): void => {
    accepted++;
    const upstream = net.connect(targetPort, targetHost);
    const pair = { a: client, b: upstream };
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    if (swallow > 0) {
      swallow--;
      upstream.on('data', () => undefined); // read and dropped
    } else upstream.pipe(client);
    if (paused || holdNew) {
      client.pause();
      upstream.pause();
    }
  };

  const listen = async (): Promise<void> => {
    const srv = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
    const addr = srv.address();
    if (addr === null || typeof addr === 'string') throw new Error('relay has no port');
    port = addr.port;
    server = srv;
  };

  const closeAll = async (): Promise<void> => {
    const srv = server;
    server = undefined;
    for (const p of [...pairs]) {
      p.a.destroy();
      p.b.destroy();
    }
    pairs.clear();
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get endpoint() {
      return `127.0.0.1:${port}`;
    },
    get accepted() {
      return accepted;
    },
    close: closeAll,
    async reopen() {
      if (!server) await listen();
    },
    pause() {
      paused = true;
      for (const p of pairs) {
        p.a.pause();
        p.b.pause();
      }
    },
    resume() {
      paused = false;
      for (const p of pairs) {
        p.a.resume();
        p.b.resume();
      }
    },
    pauseOpen() {
      const held = [...pairs];
      for (const p of held) {
        p.a.pause();
        p.b.pause();
      }
      return () => {
        for (const p of held) {
          p.a.resume();
          p.b.resume();
        }
      };
    },
    holdNew(on: boolean) {
      holdNew = on;
    },
    swallowRepliesOfNext(n: number) {
      swallow = n;
    },
    stop: closeAll,
  };
}
