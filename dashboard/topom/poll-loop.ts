/**
 * Runs `poll` every `intervalMs` (unref'd timer), never two at once: a round still running when the timer
 * fires is not doubled. A failed round is logged under `event` and the loop goes on.
 */
import type { Logger } from '../../shared/log.js';

export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly poll: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly event: string,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.poll()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn(this.event, { err }))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
