import { setMaxListeners } from 'node:events';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { Integration, IntegrationStatus, Provider } from '../domain/integration/integration.entity.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import { newId } from '../domain/shared/ids.js';
import { WebhookEvent, WebhookStatus } from '../domain/webhook/webhook-event.entity.js';
import { insertLogSql, logParams, logService } from '../jobs/log-row.js';
import { prepared } from '../db/prepared.js';
import { inboundFetchSql, type FetchedEntry } from '../jobs/fair-fetch.js';
import { INBOUND_QUEUE, type InboundQueueData } from '../jobs/queue-names.js';
import { isUuid } from '../domain/shared/ids.js';
import { webhookJobsHeld, webhookProcessed, webhookProcessingSeconds } from '../observability/metrics.js';
import type { Services } from '../services.js';
import { PROVIDERS } from '../providers/registry.js';
import type { Ownership } from './ownership.js';
import { ReconcileContext, webhookOrigin } from './reconcile.js';

export type { HandlerResult, InboundHandler } from './inbound-handler.js';

export interface ProcessorOptions {
  ownership: Ownership;
  retryLimit: number;
  concurrency: number;
}

type InboundEntry = FetchedEntry<InboundQueueData>;

/**
 * Processing jobs one process runs at once (each applies `concurrency` of its events at a time).
 * No integration gets more than its even share of them counting one more integration (the fair
 * fetch), so another integration's events always find a free one however large a backlog is.
 */
const JOB_SLOTS = 6;
/** The inbound queue sends no NOTIFY (see queue.ts): poll every half second while nothing is due. */
const POLL_MS = 500;
/** Running jobs' heartbeat; QUEUE_HEARTBEAT_SECONDS is 10 at least, so this is always in time. */
const HEARTBEAT_MS = 5_000;

/**
 * Runs stored webhook events through their provider's handler, one transaction per event:
 * canonical changes, the event's new status and its log rows commit together, and the changes
 * are published once committed. A failing event is retried by pg-boss with backoff; after the
 * last attempt it is FAILED (replayWebhookEvent runs it again).
 *
 * Jobs are fetched fairly between integrations (src/jobs/fair-fetch.ts, ADR 0011): each
 * integration's events are a group of their own in the queue, and a flood of one integration's
 * events takes at most its share of JOB_SLOTS, so another's are fetched at the next poll.
 */
export class WebhookProcessor {
  /** Jobs held, by queue entry id, with their integration. */
  private readonly held = new Map<string, { job: InboundEntry; integration: string }>();
  private readonly stopping = new AbortController();
  private slotFreed: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private fetchSql = '';
  private table = '';

  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly options: ProcessorOptions,
  ) {}

  async start(): Promise<void> {
    setMaxListeners(0, this.stopping.signal);
    const table = (await this.boss.getQueue(INBOUND_QUEUE))?.table;
    if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`pg-boss reported no usable table for the ${INBOUND_QUEUE} queue`);
    this.table = table;
    this.fetchSql = inboundFetchSql(table);
    this.heartbeat = setInterval(() => {
      const jobs = [...this.held.values()].map((h) => h.job);
      if (jobs.length) this.boss.touch(INBOUND_QUEUE, jobs).catch((err) => this.log.warn({ err }, 'webhook job heartbeat failed'));
    }, HEARTBEAT_MS);
    this.loop = this.fetchLoop().catch((err) => this.log.error({ err }, 'webhook processing loop stopped'));
  }

  /** Fetches jobs while slots are free; polls every POLL_MS while nothing is due, or sooner when a job ends. */
  private async fetchLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const free = JOB_SLOTS - this.held.size;
      let jobs: InboundEntry[] = [];
      if (free > 0) {
        try {
          jobs = await this.fetch(free);
        } catch (err) {
          if (this.stopping.signal.aborted) return;
          this.log.warn({ err }, 'fetching webhook processing jobs failed; trying again');
        }
      }
      for (const job of jobs) void this.run(job);
      if (jobs.length === 0 || this.held.size >= JOB_SLOTS) await this.wait(free > 0 && jobs.length === 0 ? POLL_MS : null);
    }
  }

  /** The fair fetch for up to `limit` jobs, given what this process holds of each integration. */
  private fetch(limit: number): Promise<InboundEntry[]> {
    const counts = new Map<string, number>();
    for (const { integration } of this.held.values()) if (isUuid(integration)) counts.set(integration, (counts.get(integration) ?? 0) + 1);
    return prepared<InboundEntry>(this.db, `switchboard_inbound_fetch_${this.table}`, this.fetchSql, [
      INBOUND_QUEUE,
      limit,
      [...counts.keys()],
      [...counts.values()],
      JOB_SLOTS,
    ]);
  }

  /** Until `ms` pass (null: no limit), a job ends, or the processor stops. */
  private wait(ms: number | null): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (timer) clearTimeout(timer);
        if (this.slotFreed === done) this.slotFreed = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = ms === null ? null : setTimeout(done, ms);
      this.slotFreed = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** One job: its events, then the entry completed, or failed for pg-boss to retry with backoff. */
  private async run(job: InboundEntry): Promise<void> {
    const integration = job.groupId ?? 'ungrouped';
    this.held.set(job.id, { job, integration });
    this.gauge(integration);
    const started = performance.now();
    try {
      const failure = await this.processAll(job.data?.eventIds ?? [], job.retryCount >= this.options.retryLimit, integration);
      if (failure === null) await this.boss.complete(INBOUND_QUEUE, job);
      else await this.boss.fail(INBOUND_QUEUE, job, { message: failure });
    } catch (err) {
      // The entry stays active; pg-boss's supervisor fails it once its heartbeat stops, and it is retried.
      this.log.error({ err, jobId: job.id }, 'settling a webhook processing job failed');
    } finally {
      webhookProcessingSeconds.inc({ integration }, (performance.now() - started) / 1000);
      this.held.delete(job.id);
      this.gauge(integration);
      this.slotFreed?.();
    }
  }

  private gauge(integration: string): void {
    let n = 0;
    for (const h of this.held.values()) if (h.integration === integration) n++;
    webhookJobsHeld.set({ integration }, n);
  }

  /** Per integration: its events being applied in this process, and the lanes waiting for one of its places. */
  private readonly applying = new Map<string, { running: number; waiters: Array<() => void> }>();

  /**
   * Until one of the integration's `concurrency` places for applying events is free in this
   * process; returns its release. Per integration, not per job: a flood's several jobs share
   * one integration's places, so it never holds more of the process's database connections
   * and CPU than one integration's worth (WEBHOOK_CONCURRENCY), and other integrations' events
   * do not wait behind its transactions.
   */
  private async acquire(integration: string): Promise<() => void> {
    let places = this.applying.get(integration);
    if (!places) this.applying.set(integration, (places = { running: 0, waiters: [] }));
    const own = places;
    if (own.running < this.options.concurrency) own.running++;
    // A release hands its place straight to the first waiter.
    else await new Promise<void>((resolve) => own.waiters.push(resolve));
    return () => {
      const next = own.waiters.shift();
      if (next) next();
      else own.running--;
    };
  }

  /**
   * The events of one job, `concurrency` at a time at most (and no more than the integration's
   * places allow). Resolves null when all settled, or the first error message (the job is
   * retried; events already settled are skipped then).
   */
  private async processAll(eventIds: string[], final: boolean, integration: string): Promise<string | null> {
    let failure: string | null = null;
    let next = 0;
    const lane = async () => {
      while (next < eventIds.length) {
        const id = eventIds[next++];
        const release = await this.acquire(integration);
        await this.process(id, final)
          .catch((err: unknown) => {
            failure ??= err instanceof Error ? err.message : String(err);
          })
          .finally(release);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, eventIds.length) }, lane));
    return failure;
  }

  /** Stops fetching and waits for the jobs being processed (events being applied finish; the rest stay RECEIVED). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    while (this.held.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(this.heartbeat);
  }

  /** Processes one event. `final`: this is the last attempt; a failure marks the event FAILED. */
  async process(eventId: string, final: boolean): Promise<void> {
    const event = await this.db.getRepository(WebhookEvent).findOneBy({ id: eventId });
    if (!event || event.status !== WebhookStatus.RECEIVED) return;
    const integration = await this.db.getRepository(Integration).findOneBy({ id: event.integrationId });
    if (!integration) return;
    // A paused integration's events wait, stored; resumeIntegration queues them again.
    if (integration.status !== IntegrationStatus.ACTIVE) return;
    const labels = { integration: integration.id, provider: integration.provider };
    const handler = PROVIDERS[integration.provider].inbound;
    try {
      const payload = JSON.parse(event.body) as unknown;
      const remote = handler.prefetch ? await handler.prefetch(payload, integration, this.services) : undefined;
      const ctx = await this.db.transaction(async (tx) => {
        const [row] = (await tx.query(`SELECT status FROM webhook_event WHERE id = $1 FOR UPDATE`, [eventId])) as Array<{ status: string }>;
        if (row?.status !== WebhookStatus.RECEIVED) return null;
        const ctx = new ReconcileContext(tx, integration, webhookOrigin(event), this.options.ownership);
        const result = await handler.handle(ctx, payload, remote);
        // What changed reaches the other integrations, in this transaction.
        await ctx.fanOut(this.services.jobs);
        if (result.note) ctx.notes.unshift(result.note);
        const note = ctx.notes.join('; ').slice(0, 2000) || null;
        ctx.addLog({
          eventType: event.eventType,
          status: LogStatus.SUCCESS,
          response: { outcome: result.status, note },
        });
        await ctx.flushLogs();
        await tx.query(
          `UPDATE webhook_event SET status = $2, processed_at = now(), attempts = attempts + 1, error = NULL WHERE id = $1`,
          [eventId, result.status],
        );
        webhookProcessed.inc({ ...labels, outcome: result.status });
        return ctx;
      });
      if (ctx) this.publish(ctx);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      webhookProcessed.inc({ ...labels, outcome: final ? WebhookStatus.FAILED : 'retry' });
      this.log.warn({ err, eventId, final }, final ? 'webhook event FAILED after its last attempt' : 'webhook event processing failed; it will be retried');
      const log = this.failureLog(integration, event, message, final);
      await this.db.transaction(async (tx) => {
        await tx.query(
          `UPDATE webhook_event SET attempts = attempts + 1, error = $2, status = CASE WHEN $3 THEN 'FAILED' ELSE status END,
                  processed_at = CASE WHEN $3 THEN now() ELSE processed_at END
           WHERE id = $1 AND status = 'RECEIVED'`,
          [eventId, message.slice(0, 2000), final],
        );
        await tx.query(insertLogSql(1), logParams(log));
      });
      this.services.events.publish('log.added', log);
      if (!final) throw err;
    }
  }

  private failureLog(integration: Integration, event: WebhookEvent, message: string, final: boolean): IntegrationLog {
    return this.db.getRepository(IntegrationLog).create({
      id: newId(),
      service: logService(integration.provider),
      eventType: event.eventType,
      direction: Direction.INBOUND,
      status: final ? LogStatus.FAILED : LogStatus.PENDING,
      timestamp: new Date(),
      errorMsg: message.slice(0, 2000),
      correlationId: event.correlationId,
      integrationId: integration.id,
      jobId: null,
      webhookEventId: event.id,
      httpStatus: null,
      durationMs: null,
      attempt: event.attempts + 1,
      request: null,
      response: { outcome: final ? 'FAILED' : 'RETRY' },
    });
  }

  private publish(ctx: ReconcileContext): void {
    const { events } = this.services;
    for (const c of ctx.published.customers) events.publish('customer.updated', c);
    for (const i of ctx.published.invoices) events.publish('invoice.updated', i);
    for (const k of ctx.published.contracts) events.publish('contract.updated', k);
    for (const j of ctx.published.jobs) events.publish('job.updated', j);
    this.services.jobs.announce(ctx.fanned);
    for (const l of ctx.published.logs) events.publish('log.added', l);
  }
}
