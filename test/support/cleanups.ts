// What a test started, undone after it: push a function; after each test they run last-first (the clients
// before the servers they used) until the list is empty. Call at the top level of a test file.
import { afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;

export function cleanupsAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return cleanups;
}
