import type { JobInsert, PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type pg from 'pg';
import { newId } from '../domain/shared/ids.js';
import type { DatabaseAvailability } from '../db/availability.js';
import { deadlineIn, msLeft } from '../db/deadline.js';
import { DatabaseTimeoutError, isDatabaseUnavailable } from '../db/db-errors.js';
import { DEFAULT_DB_TIMEOUTS, GuardedClient, type DbTimeouts } from '../db/guarded-client.js';
import { INBOUND_QUEUE, type InboundQueueData } from '../jobs/queue-names.js';
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
  /** performance.now() by which the request must be answered (its DB_REQUEST_TIMEOUT_MS). */
  deadline: number;
  settled: boolean;
  resolve: (result: WriteResult) => void;
  reject: (err: unknown) => void;
}

export interface EventWriterOptions {
  maxBatch: number;
  maxConcurrentCommits: number;
  timeouts?: DbTimeouts;
  monitor?: DatabaseAvailability | null;
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
    private readonly options: EventWriterOptions,
    /** The processing jobs for new events (WebhookService.jobsFor). */
    private readonly jobsFor: (eventIds: string[]) => JobInsert[],
  ) {}

  private get timeouts(): DbTimeouts {
    return this.options.timeouts ?? DEFAULT_DB_TIMEOUTS;
  }

  /**
   * Stores the request's events. Rejects with DatabaseTimeoutError once the request's `deadline`
   * (performance.now() time; by default DB_REQUEST_TIMEOUT_MS from now) passes: the request is
   * answered 503 then, even if a commit holding it is still under way. That commit may still
   * store the events; the provider's retry is then answered as a duplicate, so nothing is lost or
   * doubled.
   */
  write(write: IngressWrite, deadline = deadlineIn(this.timeouts.requestMs)): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { write, ids: write.events.map(() => newId()), deadline, settled: false, resolve, reject };
      const timer = setTimeout(() => this.fail(pending, new DatabaseTimeoutError('the webhook could not be stored within DB_REQUEST_TIMEOUT_MS')), Math.max(0, msLeft(deadline)));
      pending.resolve = (result) => {
        clearTimeout(timer);
        if (!pending.settled) (pending.settled = true), resolve(result);
      };
      pending.reject = (err) => {
        clearTimeout(timer);
        if (!pending.settled) (pending.settled = true), reject(err);
      };
      this.queue.push(pending);
      this.pump();
    });
  }

  /** A request that timed out: answered now; if it still waits for a commit, it leaves the queue. */
  private fail(pending: Pending, err: Error): void {
    const at = this.queue.indexOf(pending);
    if (at >= 0) this.queue.splice(at, 1);
    pending.reject(err);
    if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
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
        if (next.settled) continue;
        events += next.ids.length;
        batch.push(next);
      }
      if (batch.length === 0) continue;
      this.running++;
      // The commit may take until the latest deadline of its requests; each is answered by its own.
      const deadline = Math.max(...batch.map((p) => p.deadline));
      this.commit(batch, deadline).then(
        (inserted) => {
          // The next commit goes to PostgreSQL first; these answers are written while it runs.
          this.settled();
          for (const p of batch) p.resolve(p.ids.map((id) => (inserted.has(id) ? id : null)));
        },
        async (err) => {
          if (batch.length === 1 || isDatabaseUnavailable(err)) {
            // One request, or the database is down or too slow: each request of the batch gets
            // its 503 now (one by one, each would wait out its own time limit first).
            this.log.error({ err, requests: batch.length }, 'webhook request could not be stored');
            for (const p of batch) p.reject(err);
          } else {
            // One bad row must not fail its neighbours: each request again, on its own.
            this.log.warn({ err, requests: batch.length }, 'webhook batch could not be stored; storing its requests one by one');
            for (const p of batch) {
              if (p.settled) continue;
              await this.commit([p], p.deadline).then(
                (inserted) => p.resolve(p.ids.map((id) => (inserted.has(id) ? id : null))),
                (e: unknown) => {
                  this.log.error({ err: e }, 'webhook request could not be stored');
                  p.reject(e);
                },
              );
            }
          }
          this.settled();
        },
      );
    }
  }

  /** A commit (and any one-by-one retry of its requests) is over: start the next. */
  private settled(): void {
    this.running--;
    this.pump();
    if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** One transaction for the batch, given up on (and its connection closed) at `deadline`. */
  private async commit(batch: Pending[], deadline: number): Promise<Set<string>> {
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
    const candidates = batch.flatMap((p) => p.ids);
    const job = candidates.length > 0 ? await this.jobTemplate() : null;
    const slot = await this.connection(job?.statement ?? null, deadline);
    const client = slot.client;
    try {
      // The whole transaction in one round trip: the simple query protocol, running statements
      // this connection prepared once (PostgreSQL parses and plans them once, not per commit),
      // their arguments inlined as dollar-quoted literals. The events (duplicates skipped) and the
      // requests' log rows; then the processing job, through pg-boss's own INSERT, for the events
      // the first statement stored (none stored: no job); then COMMIT.
      const results = (await client.query({
        text: `BEGIN;
         EXECUTE ${INGEST}(${quoted(JSON.stringify(events))}, ${quoted(JSON.stringify(logs))});
         ${job ? `EXECUTE ${JOB}(${quoted(`{${candidates.join(',')}}`)}, ${quoted(job.json)});` : ''}
         COMMIT`,
        query_timeout: Math.max(1, msLeft(deadline)),
      } as pg.QueryConfig)) as unknown as pg.QueryResult<{ id: string }>[];
      return new Set(results[1].rows.map((r) => r.id));
    } catch (err) {
      // An error aborts the rest of the query string and leaves the transaction open (if BEGIN ran).
      await client.query('ROLLBACK').catch(() => undefined);
      // A connection that failed mid-transaction is not reused.
      slot.broken = true;
      throw err;
    } finally {
      this.release(slot);
    }
  }

  private jobStatement: string | null = null;

  /**
   * pg-boss's own INSERT for one processing job (WebhookService.jobsFor, event ids left empty),
   * captured instead of executed: the job as pg-boss serialised it, and the statement with its
   * single JSON parameter replaced by the stored-events expression (see JOB_JSON). pg-boss 12
   * passes the jobs as one JSON text ($1); anything else is refused loudly rather than guessed at.
   */
  private async jobTemplate(): Promise<{ statement: string; json: string }> {
    const template = this.jobsFor([]);
    let captured: { text: string; values: unknown[] } | undefined;
    await this.boss.insert(INBOUND_QUEUE, template, {
      db: {
        executeSql: async (text: string, values?: unknown[]) => {
          captured = { text, values: values ?? [] };
          return { rows: [] };
        },
      },
    });
    const parts = captured?.text.split('$1') ?? [];
    if (template.length !== 1 || !captured || parts.length !== 2 || /\$[0-9]/.test(parts.join('')) || captured.values.length !== 1 || typeof captured.values[0] !== 'string') {
      throw new Error('pg-boss insert() did not produce the one-parameter statement the webhook writer prepares (pg-boss upgraded?)');
    }
    const statement = parts[0] + JOB_JSON + parts[1];
    // The statement depends only on the queue's settings, fixed for the process's life; each
    // connection prepared it once.
    if (this.jobStatement !== null && this.jobStatement !== statement) throw new Error('pg-boss changed its insert statement for the inbound queue while running');
    this.jobStatement = statement;
    return { statement, json: captured.values[0] };
  }

  /** Dedicated connections (one per concurrent commit): no pool checkout on the hot path. */
  private readonly idleSlots: Slot[] = [];

  private async connection(jobStatement: string | null, deadline: number): Promise<Slot> {
    const slot = this.idleSlots.pop() ?? (await this.connect(deadline));
    if (jobStatement !== null && !slot.jobPrepared) {
      try {
        await slot.client.query(`PREPARE ${JOB}(uuid[], jsonb) AS ${jobStatement}`);
      } catch (err) {
        slot.broken = true;
        this.release(slot);
        throw err;
      }
      slot.jobPrepared = true;
    }
    return slot;
  }

  private async connect(deadline: number): Promise<Slot> {
    const client = new GuardedClient({
      connectionString: this.connectionString,
      application_name: 'switchboard-ingress',
      connectionTimeoutMillis: Math.max(1, Math.ceil(msLeft(deadline))),
      guard: { pool: 'webhook_writer', role: 'api', timeouts: this.timeouts, monitor: this.options.monitor ?? null },
    });
    const slot: Slot = { client, broken: false, jobPrepared: false };
    // A connection that breaks while idle (the server restarted) leaves the idle list at once,
    // so the next commit does not find it dead.
    const gone = (err?: Error) => {
      if (err) this.log.warn({ err }, 'webhook writer connection error');
      slot.broken = true;
      const at = this.idleSlots.indexOf(slot);
      if (at >= 0) this.idleSlots.splice(at, 1);
    };
    client.on('error', gone);
    client.on('end', () => gone());
    await client.connect();
    try {
      await client.query(`PREPARE ${INGEST}(jsonb, jsonb) AS ${INGEST_SQL}`);
    } catch (err) {
      client.abandon();
      throw err;
    }
    return slot;
  }

  private release(slot: Slot): void {
    if (slot.broken || this.closed) {
      // A broken connection may not answer a goodbye: closed at once.
      if (slot.broken) slot.client.abandon();
      else void slot.client.end().catch(() => undefined);
    } else this.idleSlots.push(slot);
  }

  private closed = false;

  /** After idle(): closes the writer's connections. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idleSlots.splice(0).map((s) => s.client.end().catch(() => undefined)));
  }
}

interface Slot {
  client: GuardedClient;
  broken: boolean;
  /** JOB is prepared on this connection (once the queue's insert statement is known). */
  jobPrepared: boolean;
}

/** The writer connections' prepared statements. */
const INGEST = 'switchboard_ingest';
const JOB = 'switchboard_ingest_job';

/**
 * $1 events, $2 log rows (JSON arrays): the events, duplicates skipped, and the requests' log
 * rows in one statement; a log row points at its request's first event only when that is new.
 * Returns the ids of the events stored.
 */
const INGEST_SQL = `
  WITH ev AS (
    INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, occurred_at, correlation_id)
    SELECT id, integration_id, provider, external_event_id, event_type, body, occurred_at, correlation_id
    FROM jsonb_to_recordset($1) AS e(id uuid, integration_id uuid, provider text, external_event_id text,
                                     event_type text, body text, occurred_at timestamptz, correlation_id text)
    ON CONFLICT ON CONSTRAINT webhook_event_dedup DO NOTHING
    RETURNING id
  ), lg AS (
    INSERT INTO integration_log (id, service, event_type, direction, status, error_msg, correlation_id, integration_id,
                                 webhook_event_id, http_status, duration_ms, request)
    SELECT l.id, l.service, l.event_type, 'INBOUND', l.status, l.error_msg, l.correlation_id, l.integration_id,
           ev.id, l.http_status, l.duration_ms, l.request
    FROM jsonb_to_recordset($2) AS l(id uuid, service text, event_type text, status text, error_msg text,
                                     correlation_id text, integration_id uuid, webhook_event_id uuid,
                                     http_status int, duration_ms int, request jsonb)
    LEFT JOIN ev ON ev.id = l.webhook_event_id
  )
  SELECT id FROM ev`;

/**
 * In place of pg-boss's jobs parameter: $2 is the job pg-boss was given (a one-element array, its
 * event ids empty); the result is one such job per integration, carrying those of the candidate
 * ids $1 this transaction stored for it, in arrival order, in that integration's group (the
 * processor's fair fetch shares out by it: ADR 0011), with an id pg-boss makes; or no job at all
 * when every event was a duplicate. A candidate id is fresh (uuidv7, made for this request), so
 * finding it in webhook_event means this transaction wrote it.
 */
const JOB_JSON = `(SELECT COALESCE(jsonb_agg(jsonb_set(jsonb_set(($2 -> 0) - 'id', '{data,${'eventIds' satisfies keyof InboundQueueData}}', g.ids),
                                               '{groupId}', to_jsonb(g.integration_id::text)) ORDER BY g.first), '[]'::jsonb)
                   FROM (SELECT w.integration_id, jsonb_agg(w.id ORDER BY c.n) AS ids, min(c.n) AS first
                         FROM unnest($1) WITH ORDINALITY AS c(id, n)
                         JOIN webhook_event w ON w.id = c.id
                         GROUP BY w.integration_id) g)`;

/**
 * A dollar-quoted literal: the text verbatim (no per-character escaping of a batch's JSON), under
 * a tag the text does not contain.
 */
export function quoted(text: string): string {
  let tag = '$j$';
  // Not inside the text, nor formed by its end and the closing tag.
  for (let n = 0; (text + tag).indexOf(tag) < text.length; n++) tag = `$j${n}$`;
  return tag + text + tag;
}
