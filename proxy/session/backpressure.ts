/**
 * A client's backpressure: when to stop reading its socket, and when its unread output means closing it.
 *
 * Reading pauses while its pending requests (queued + waiting) reach limits.maxPipeline (resumes at half),
 * while the socket needs draining (resumes on 'drain'), or while a backend it sent to is congested
 * (backendHold, MAX_BACKEND_BUFFERED_BYTES in proxy/backend/connection.ts). A subscriber that does not keep
 * up also stops its backend subscriber connections being read (the messages wait in Redis, under Redis's own
 * limit). Output limits follow Redis's client-output-buffer-limit by class: pubsub (guard.pubsubOutput) and
 * normal (limits.maxClientOutput).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import type { ProxyConfig } from '../config.js';
import type { ProxyMetrics } from '../metrics.js';
import { DirectWriter } from '../util/direct-write.js';

/** What backpressure reads of its client. */
export interface PressuredClient {
  readonly id: number;
  readonly remoteAddress: string;
  readonly isClosed: boolean;
  /** Subscribed to something: the pubsub output class applies. */
  readonly isSubscriber: boolean;
  /** Stop (true) or restart (false) reading this client's backend subscriber connections. */
  throttleSubscriptions(on: boolean): void;
}

export interface BackpressureEnv {
  readonly config: ProxyConfig;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
}

/**
 * Also the client's writer (a DirectWriter: replies go straight to the socket's handle when nothing is
 * buffered); a direct write left pending in libuv calls drained() when done, as the socket's 'drain' does.
 */
export class Backpressure extends DirectWriter {
  private pausedForPipeline = false;
  /** The socket's buffer is over its high-water mark: waiting for 'drain'. */
  pausedForDrain = false;
  /** Congested backends holding this client; reading is paused while > 0. */
  private backendHolds = 0;
  /** When a subscriber's unread output went over guard.pubsubOutput's soft limit (0 = it is under). */
  private softSince = 0;
  /** Set while a subscriber's backend subscriber connections are not read (throttleSubscriber). */
  private throttleTimer: NodeJS.Timeout | null = null;
  private readonly maxPipeline: number;
  private readonly resumeAt: number;

  constructor(
    socket: Socket,
    private readonly client: PressuredClient,
    private readonly env: BackpressureEnv,
  ) {
    super(socket);
    this.maxPipeline = env.config.limits.maxPipeline;
    this.resumeAt = Math.max(1, Math.floor(this.maxPipeline / 2));
  }

  /** A request was accepted: `pending` = queued + waiting requests now. */
  accepted(pending: number): void {
    if (!this.pausedForPipeline && pending >= this.maxPipeline) {
      this.pausedForPipeline = true;
      this.update();
    }
  }

  /** Replies left the queue: `pending` = queued + waiting requests now. */
  relieved(pending: number): void {
    if (this.pausedForPipeline && pending <= this.resumeAt) {
      this.pausedForPipeline = false;
      this.update();
    }
  }

  backendHold(): void {
    if (this.backendHolds++ === 0) this.update();
  }

  backendRelease(): void {
    this.backendHolds--;
    this.update();
  }

  /** The socket's 'drain', or a pending direct write done. */
  override drained(): void {
    this.pausedForDrain = false;
    this.update();
    if (this.throttleTimer !== null) {
      clearTimeout(this.throttleTimer);
      this.throttleTimer = null;
      this.client.throttleSubscriptions(false);
    }
  }

  /** After a write; `ok` is what socket.write said (false = needs draining). */
  written(ok: boolean): void {
    if (ok || this.pausedForDrain) return;
    this.pausedForDrain = true;
    this.update();
    if (this.client.isSubscriber) this.throttleSubscriber();
  }

  /** Pauses or resumes reading the socket to match the reasons above. */
  update(): void {
    if (this.client.isClosed) return;
    const pause = this.pausedForPipeline || this.pausedForDrain || this.backendHolds > 0;
    if (pause && !this.socket.isPaused()) this.socket.pause();
    else if (!pause && this.socket.isPaused()) this.socket.resume();
  }

  /**
   * Not reading a subscriber's backend connections for the soft limit's seconds counts as being over the soft
   * limit (the messages wait in Redis, not here): the client is closed then, as Redis would close it.
   */
  private throttleSubscriber(): void {
    if (this.throttleTimer !== null) return;
    this.client.throttleSubscriptions(true);
    const { softBytes, softSeconds } = this.env.config.guard.pubsubOutput;
    if (softBytes <= 0) return;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      if (this.client.isClosed || !this.pausedForDrain) return;
      this.env.log.warn('session.output_limit', { id: this.client.id, client: this.client.remoteAddress, class: 'pubsub', notReadingSeconds: softSeconds });
      this.env.metrics.guards.output_pubsub++;
      this.env.metrics.cxOutputLimit++;
      this.socket.destroy();
    }, softSeconds * 1000);
  }

  /**
   * Redis's client-output-buffer-limit by class: a subscriber over guard.pubsubOutput's hard limit, or over
   * its soft limit for its seconds; any other client over limits.maxClientOutput (Redis's normal class).
   */
  overOutputLimit(): boolean {
    const buffered = this.writableLength;
    if (this.client.isSubscriber) {
      const { hardBytes, softBytes, softSeconds } = this.env.config.guard.pubsubOutput;
      let over = hardBytes > 0 && buffered > hardBytes;
      if (!over && softBytes > 0 && buffered > softBytes) {
        const now = Date.now();
        if (this.softSince === 0) this.softSince = now;
        else over = now - this.softSince >= softSeconds * 1000;
      } else if (buffered <= softBytes) this.softSince = 0;
      if (!over) return false;
      this.env.log.warn('session.output_limit', { id: this.client.id, client: this.client.remoteAddress, class: 'pubsub', buffered, hardBytes, softBytes, softSeconds });
      this.env.metrics.guards.output_pubsub++;
      this.env.metrics.cxOutputLimit++;
      return true;
    }
    const limit = this.env.config.limits.maxClientOutputBytes;
    if (limit <= 0 || buffered <= limit) return false;
    // A client that sends but does not read: like Redis's client-output-buffer-limit, drop it.
    this.env.log.warn('session.output_limit', { id: this.client.id, client: this.client.remoteAddress, class: 'normal', buffered, limit });
    this.env.metrics.cxOutputLimit++;
    return true;
  }

  /** The client is gone. */
  stop(): void {
    if (this.throttleTimer !== null) clearTimeout(this.throttleTimer);
    this.throttleTimer = null;
  }
}
