/**
 * Certificate rotation without restart: the files are polled (fs.watchFile: robust to the symlink swaps of
 * Kubernetes Secret volumes and cert-manager, where inotify on the old inode would go quiet), and after a
 * change the new files are read and handed to `apply` (e.g. tls.Server.setSecureContext). A half-written or
 * mismatched pair is logged and the previous certificate kept; the next change retries.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../log.js';

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
