import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { CommonErrors, RedslotError } from '../../../shared/errors.js';

/** Full path of a program on PATH (or in /usr/sbin, where Debian puts some daemons), else a clear error. */
export function findBinary(name: string, install: string): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const full = path.join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      /* not here */
    }
  }
  throw new RedslotError(CommonErrors.REDSLOT_ERR_MISSING_BINARY, { binary: name, install });
}
