import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { Integration, IntegrationStatus, Provider } from '../domain/integration/integration.entity.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import { newId } from '../domain/shared/ids.js';
import { WebhookEvent, WebhookStatus } from '../domain/webhook/webhook-event.entity.js';
import { insertLogSql, logParams, logService } from '../jobs/log-row.js';
import { INBOUND_QUEUE, type InboundQueueData } from '../jobs/queue-names.js';
import { webhookProcessed } from '../observability/metrics.js';
import type { Services } from '../services.js';
import { hubspotHandler } from './handlers/hubspot.js';
import { sendgridHandler } from './handlers/sendgrid.js';
import { stripeHandler } from './handlers/stripe.js';
import type { Ownership } from './ownership.js';
import { ReconcileContext } from './reconcile.js';

export interface HandlerResult {
  status: 'PROCESSED' | 'IGNORED';
  note?: string;
}

/**
 * How one provider's events become canonical changes. `prefetch` runs before the transaction
 * (reads from the provider, never while holding locks); `handle` runs inside it.
 */
export interface InboundHandler {
  prefetch?(payload: unknown, integration: Integration, services: Services): Promise<unknown>;
  handle(ctx: ReconcileContext, payload: unknown, remote: unknown): Promise<HandlerResult>;
}

/** GENERIC (Standard Webhooks) events are stored, deduplicated, logged and replayable; nothing maps them. */
const genericHandler: InboundHandler = {
  async handle(_ctx, payload) {
    const type = (payload as { type?: unknown })?.type;
    return { status: 'IGNORED', note: `GENERIC event ${typeof type === 'string' ? type : ''} kept in the inbox; no canonical mapping`.replace('  ', ' ') };
  },
};

const HANDLERS: Record<Provider, InboundHandler> = {
  [Provider.STRIPE]: stripeHandler,
  [Provider.HUBSPOT]: hubspotHandler,
  [Provider.SENDGRID]: sendgridHandler,
  [Provider.GENERIC]: genericHandler,
};

export interface ProcessorOptions {
  ownership: Ownership;
  retryLimit: number;
  concurrency: number;
}

/**
 * Runs stored webhook events through their provider's handler, one transaction per event:
 * canonical changes, the event's new status and its log rows commit together, and the changes
 * are published once committed. A failing event is retried by pg-boss with backoff; after the
 * last attempt it is FAILED (replayWebhookEvent runs it again).
 */
export class WebhookProcessor {
  private workerId: string | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly options: ProcessorOptions,
  ) {}

  async start(): Promise<void> {
    this.workerId = await this.boss.work<InboundQueueData, unknown, { batchSize: number; perJobResults: true; burstWhenBatchFull: true; pollingIntervalSeconds: number }>(
      INBOUND_QUEUE,
      // Jobs are settled one by one; full batches fetch again at once. The inbound queue sends
      // no NOTIFY (see queue.ts): poll every half second.
      { batchSize: 4, perJobResults: true, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
      async (jobs) => {
        const settled = await Promise.all(jobs.map((job) => this.processAll(job.data.eventIds ?? [], job.retryCount >= this.options.retryLimit)));
        return jobs.map((job, i) =>
          settled[i] === null
            ? { id: job.id, status: 'completed' as const }
            : { id: job.id, status: 'failed' as const, output: { message: settled[i] } },
        );
      },
    );
  }

  /**
   * The events of one job, `concurrency` at a time. Resolves null when all settled, or the
   * first error message (the job is retried; events already settled are skipped then).
   */
  private async processAll(eventIds: string[], final: boolean): Promise<string | null> {
    let failure: string | null = null;
    let next = 0;
    const lane = async () => {
      while (next < eventIds.length) {
        const id = eventIds[next++];
        await this.process(id, final).catch((err: unknown) => {
          failure ??= err instanceof Error ? err.message : String(err);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, eventIds.length) }, lane));
    return failure;
  }

  async stop(): Promise<void> {
    if (this.workerId) await this.boss.offWork(INBOUND_QUEUE, { id: this.workerId, wait: true });
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
    const handler = HANDLERS[integration.provider];
    try {
      const payload = JSON.parse(event.body) as unknown;
      const remote = handler.prefetch ? await handler.prefetch(payload, integration, this.services) : undefined;
      const ctx = await this.db.transaction(async (tx) => {
        const [row] = (await tx.query(`SELECT status FROM webhook_event WHERE id = $1 FOR UPDATE`, [eventId])) as Array<{ status: string }>;
        if (row?.status !== WebhookStatus.RECEIVED) return null;
        const ctx = new ReconcileContext(tx, integration, event, this.options.ownership);
        const result = await handler.handle(ctx, payload, remote);
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
    for (const l of ctx.published.logs) events.publish('log.added', l);
  }
}
