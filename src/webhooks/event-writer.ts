import type { JobInsert, PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import pg from 'pg';
import { newId } from '../domain/shared/ids.js';
import { INBOUND_QUEUE } from '../jobs/queue-names.js';
import type { ParsedEvent } from './parse.js';

/** The INBOUND IntegrationLog row one webhook request leaves, accepted or not. */
export interface IngressLog {
  id: string;
  integrationId: string;
  service: string;
  eventType: string;
  status: 'SUCCESS' | 'FAILED';
  errorMsg: string | null;
  correlationId: string;
  httpStatus: number;
  durationMs: number;
  /** Non-secret facts: event ids and types, the rejection reason. Never a header or a body. */
  request: Record<string, unknown>;
}

export interface IngressWrite {
  integrationId: string;
  provider: string;
  correlationId: string;
  events: ParsedEvent[];
  log: IngressLog;
}

/** Per event of the request, in order: the new row's id, or null when the event was already stored. */
export type WriteResult = Array<string | null>;

interface Pending {
  write: IngressWrite;
  ids: string[];
  resolve: (result: WriteResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the webhook ingress. Requests that arrive while a commit is running wait for
 * the next one, which takes all of them: one transaction stores every event (deduplicated by the
 * unique (integration, provider event id) index), every request's log row, and one processing
 * job per new event. Each request is answered only after the commit that holds it: a 2xx is never
 * sent for an event that is not durable.
 */
export class EventWriter {
  private queue: Pending[] = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly connectionString: string,
    private readonly boss: PgBoss,
    private readonly log: Logger,
    private readonly options: { maxBatch: number; maxConcurrentCommits: number },
    /** The processing jobs for new events (WebhookService.jobsFor). */
    private readonly jobsFor: (eventIds: string[]) => JobInsert[],
  ) {}

  write(write: IngressWrite): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, ids: write.events.map(() => newId()), resolve, reject });
      this.pump();
    });
  }

  /** Resolves once every accepted write has been committed or failed. */
  async idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.options.maxConcurrentCommits && this.queue.length > 0) {
      const batch: Pending[] = [];
      let events = 0;
      while (this.queue.length > 0 && (batch.length === 0 || events + this.queue[0].ids.length <= this.options.maxBatch)) {
        const next = this.queue.shift()!;
        events += next.ids.length;
        batch.push(next);
      }
      this.running++;
      this.commit(batch)
        .then(
          (inserted) => {
            for (const p of batch) p.resolve(p.ids.map((id) => (inserted.has(id) ? id : null)));
          },
          async (err) => {
            if (batch.length === 1) {
              this.log.error({ err }, 'webhook request could not be stored');
              batch[0].reject(err);
              return;
            }
            // One bad row must not fail its neighbours: each request again, on its own.
            this.log.warn({ err, requests: batch.length }, 'webhook batch could not be stored; storing its requests one by one');
            for (const p of batch) {
              await this.commit([p]).then(
                (inserted) => p.resolve(p.ids.map((id) => (inserted.has(id) ? id : null))),
                (e: unknown) => {
                  this.log.error({ err: e }, 'webhook request could not be stored');
                  p.reject(e);
                },
              );
            }
          },
        )
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
  }

  private async commit(batch: Pending[]): Promise<Set<string>> {
    const events: unknown[] = [];
    const logs: unknown[] = [];
    for (const { write, ids } of batch) {
      write.events.forEach((e, i) =>
        events.push({
          id: ids[i],
          integration_id: write.integrationId,
          provider: write.provider,
          external_event_id: e.externalEventId,
          event_type: e.eventType,
          body: e.body,
          occurred_at: e.occurredAt?.toISOString() ?? null,
          correlation_id: write.correlationId,
        }),
      );
      const l = write.log;
      logs.push({
        id: l.id,
        service: l.service,
        event_type: l.eventType,
        status: l.status,
        error_msg: l.errorMsg,
        correlation_id: l.correlationId,
        integration_id: l.integrationId,
        webhook_event_id: ids[0] ?? null,
        http_status: l.httpStatus,
        duration_ms: l.durationMs,
        request: l.request,
      });
    }
    const slot = await this.connection();
    const client = slot.client;
    let open = false;
    try {
      // BEGIN and the insert in one round trip (simple query protocol: the parameters are
      // inlined as escaped literals). Events (duplicates skipped) and the requests' log rows in
      // one statement; a log row points at its request's first event only when that is new.
      const results = (await client.query(
        `BEGIN;
         WITH ev AS (
           INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, occurred_at, correlation_id)
           SELECT id, integration_id, provider, external_event_id, event_type, body, occurred_at, correlation_id
           FROM jsonb_to_recordset(${escapeLiteral(JSON.stringify(events))}::jsonb) AS e(id uuid, integration_id uuid, provider text, external_event_id text,
                                                    event_type text, body text, occurred_at timestamptz, correlation_id text)
           ON CONFLICT ON CONSTRAINT webhook_event_dedup DO NOTHING
           RETURNING id
         ), lg AS (
           INSERT INTO integration_log (id, service, event_type, direction, status, error_msg, correlation_id, integration_id,
                                        webhook_event_id, http_status, duration_ms, request)
           SELECT l.id, l.service, l.event_type, 'INBOUND', l.status, l.error_msg, l.correlation_id, l.integration_id,
                  ev.id, l.http_status, l.duration_ms, l.request
           FROM jsonb_to_recordset(${escapeLiteral(JSON.stringify(logs))}::jsonb) AS l(id uuid, service text, event_type text, status text, error_msg text,
                                                   correlation_id text, integration_id uuid, webhook_event_id uuid,
                                                   http_status int, duration_ms int, request jsonb)
           LEFT JOIN ev ON ev.id = l.webhook_event_id
         )
         SELECT id FROM ev`,
      )) as unknown as pg.QueryResult<{ id: string }>[];
      open = true;
      const rows = results[1].rows;
      if (rows.length > 0) {
        // The processing jobs, through pg-boss, in the same transaction.
        await this.boss.insert(INBOUND_QUEUE, this.jobsFor(rows.map((r) => r.id)), {
          db: { executeSql: async (text: string, values?: unknown[]) => ({ rows: (await client.query(text, values)).rows }) },
        });
      }
      await client.query('COMMIT');
      open = false;
      return new Set(rows.map((r) => r.id));
    } catch (err) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      // A connection that failed mid-transaction is not reused.
      slot.broken = true;
      throw err;
    } finally {
      this.release(slot);
    }
  }

  /** Dedicated connections (one per concurrent commit): no pool checkout on the hot path. */
  private readonly idleSlots: Slot[] = [];

  private async connection(): Promise<Slot> {
    const idle = this.idleSlots.pop();
    if (idle) return idle;
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'switchboard-ingress' });
    client.on('error', (err) => this.log.warn({ err }, 'webhook writer connection error'));
    await client.connect();
    return { client, broken: false };
  }

  private release(slot: Slot): void {
    if (slot.broken || this.closed) void slot.client.end().catch(() => undefined);
    else this.idleSlots.push(slot);
  }

  private closed = false;

  /** After idle(): closes the writer's connections. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idleSlots.splice(0).map((s) => s.client.end().catch(() => undefined)));
  }
}

interface Slot {
  client: pg.Client;
  broken: boolean;
}

const escapeLiteral = (value: string) => pg.escapeLiteral(value);
