/**
 * The migration settings (pause, throttle, parallelism): persisted in the coordinator so every leader applies
 * the same, and applied at once to the running movers through the shared Throttle and PauseGate.
 */
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { MigrationEngineDeps } from './context.js';
import { DEFAULT_SETTINGS, parseSettings, type MigrationSettings } from './state-machine.js';
import { PauseGate, Throttle } from './throttle.js';

export const SETTINGS_NAME = 'migration';

export class MigrationSettingsHolder {
  readonly throttle = new Throttle();
  readonly gate = new PauseGate();
  private settings: MigrationSettings = { ...DEFAULT_SETTINGS };
  private modRevision = 0;

  constructor(private readonly deps: MigrationEngineDeps) {}

  get current(): MigrationSettings {
    return this.settings;
  }

  /** modRevision of the settings record as last read (0 = absent). */
  get revision(): number {
    return this.modRevision;
  }

  /** Reads the persisted settings and applies them. */
  async refresh(): Promise<void> {
    const kv = await this.deps.coord.get(this.key());
    this.modRevision = kv?.modRevision ?? 0;
    this.apply(parseSettings(kv?.value));
  }

  /** The persisted settings, without applying them (views of a dashboard that is not the leader). */
  async read(): Promise<MigrationSettings> {
    return parseSettings((await this.deps.coord.get(this.key()))?.value);
  }

  /** Persists `change` (CAS, retried on a concurrent write while leader) and applies the result. */
  async write(change: Partial<MigrationSettings>, who: string): Promise<MigrationSettings> {
    const key = this.key();
    for (let attempt = 0; ; attempt++) {
      const kv = await this.deps.coord.get(key);
      const next = { ...parseSettings(kv?.value), ...change };
      try {
        await this.deps.store.commit(`migration settings (${who})`, kv?.modRevision ?? 0, [this.deps.store.guard(key, kv?.modRevision ?? 0)], [
          { type: 'put', key, value: JSON.stringify(next) },
        ]);
      } catch (err) {
        if (attempt < 3 && err instanceof RedslotError && err.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code && this.deps.isLeader()) continue;
        throw err;
      }
      this.apply(next);
      return next;
    }
  }

  private apply(s: MigrationSettings): void {
    this.settings = s;
    const t = this.throttle.rates();
    if (t.keysPerSec !== s.keysPerSec || t.bytesPerSec !== s.bytesPerSec) this.throttle.set({ keysPerSec: s.keysPerSec, bytesPerSec: s.bytesPerSec });
    if (s.paused && !this.gate.isPaused()) this.gate.pause();
    if (!s.paused && this.gate.isPaused()) this.gate.resume();
    const m = this.deps.metrics;
    m?.paused.set(s.paused ? 1 : 0);
    m?.throttleKeys.set(s.keysPerSec);
    m?.throttleBytes.set(s.bytesPerSec);
  }

  private key(): string {
    return this.deps.paths.setting(SETTINGS_NAME);
  }
}
