/**
 * Stand-alone entry: `node --import tsx dashboard/entry.ts --coordinator URL ...` (tests spawn this directly
 * so kill -9 by PID hits the dashboard itself). The `redslot` binary routes `redslot dashboard` to the same
 * runDashboardCommand. Exits explicitly once the dashboard stopped (a lingering gRPC handle must not keep a
 * stopped dashboard alive).
 */
import { runDashboardCommand } from './main.js';

process.exit(await runDashboardCommand(process.argv.slice(2)));
