/** What one CLI command handler gets (dashboard/cli/index.ts builds it; handlers live in their own files). */
import type { DashboardClient } from './api-client.js';
import type { ParsedArgs } from './args.js';

export interface CliRun {
  client: DashboardClient;
  args: ParsedArgs;
  /** Positionals after the command word. */
  rest: string[];
  json: boolean;
  out: (human: string, json: unknown) => void;
  ifRevision: number | undefined;
  /** The command printed its answer but did not succeed (exit code 1). */
  fail(): void;
}
