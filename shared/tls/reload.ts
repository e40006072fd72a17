/**
 * Certificate rotation without restart: the files are polled (fs.watchFile: robust to the symlink swaps of
 * Kubernetes Secret volumes and cert-manager, where inotify on the old inode would go quiet), and after a
 * change the new files are read and handed to `apply` (e.g. tls.Server.setSecureContext). A half-written or
 * mismatched pair is logged and the previous certificate kept; the next change retries.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type tls from 'node:tls';
import type { Logger } from '../log.js';
import { serverFiles, serverOptions, type TlsServerConfig } from './config.js';

export function watchTlsFiles(files: readonly string[], intervalMs: number, apply: () => void, log: Logger, what: string): () => void {
  let timer: NodeJS.Timeout | null = null;
  const onChange = () => {
    // Several files change together (cert and key): reload once, after they settle.
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      try {
        apply();
        log.info('tls.reloaded', { what, files });
      } catch (err) {
        log.error('tls.reload_failed', { what, files, err });
      }
    }, Math.min(200, intervalMs));
    timer.unref();
  };
  for (const f of files) watchFile(f, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    if (timer !== null) clearTimeout(timer);
    for (const f of files) unwatchFile(f, onChange);
  };
}

/**
 * Keeps a TLS listener (the proxy's client port, an HTTPS server: the dashboard, the proxy admin port) on the
 * current certificate files: new connections get the rotated certificate, open ones keep theirs.
 */
export function watchServerCertificates(server: tls.Server, c: TlsServerConfig, intervalMs: number, log: Logger, what: string): () => void {
  return watchTlsFiles(serverFiles(c), intervalMs, () => server.setSecureContext(serverOptions(c, what)), log, what);
}
