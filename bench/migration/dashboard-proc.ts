/**
 * A dashboard with the migration plugin as its own process (tests kill -9 it mid-migration):
 *   node --import tsx bench/migration/dashboard-proc.ts <coordinator-url> <port> <leaseTtlMs> <barrierTimeoutMs>  [pluginJson] [splitKnobsJson]
 * Listens on 127.0.0.1:<port>, campaigns, runs until killed (SIGTERM: graceful, revokes the lease).
 */
import { openCoordinator } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import { buildDashboardWithMigration } from './cluster.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'warn');

const [url, port, lease, barrier, pluginJson, splitJson] = process.argv.slice(2);
if (!url || !port) {
  process.stderr.write('usage: dashboard-proc.ts <coordinator-url> <port> <leaseTtlMs> <barrierTimeoutMs> [pluginJson] [splitKnobsJson]\n');
  process.exit(2);
}
const opened = await openCoordinator(url);
const app = await buildDashboardWithMigration(opened, {
  leaseTtlMs: Number(lease ?? 3000),
  barrierTimeoutMs: Number(barrier ?? 15000),
  plugin: pluginJson ? (JSON.parse(pluginJson) as object) : {},
  split: splitJson ? (JSON.parse(splitJson) as object) : {},
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
await app.dashboard.election.start(`127.0.0.1:${port}`);
const stop = async (): Promise<void> => {
  await app.close();
  await opened.coordinator.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
