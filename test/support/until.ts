// Polls `cond` until it holds. A condition that throws counts as "not yet" (a server still starting, a connection
// being re-established); on timeout the error names `what` and adds `detail()` (process logs, say).
export async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
