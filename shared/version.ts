// redslot's version, read once from package.json (the one place it is written).
import { createRequire } from 'node:module';

function readVersion(): string {
  const require = createRequire(import.meta.url);
  // Source (shared/version.ts) and compiled (dist/shared/version.js) layouts differ by one level.
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'redslot' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* try the other layout */
    }
  }
  return 'unknown';
}

export const REDSLOT_VERSION = readVersion();
