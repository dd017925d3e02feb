import { setTimeout as sleep } from 'node:timers/promises';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { Integration, IntegrationStatus } from '../domain/integration/integration.entity.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import { newId } from '../domain/shared/ids.js';
import { insertLogSql, logParams, logService } from '../jobs/log-row.js';
import { SYNC_QUEUE, type SyncQueueData } from '../jobs/queue-names.js';
import { syncLag, syncPages, syncRecords, syncRunDuration } from '../observability/metrics.js';
import { ProviderError } from '../providers/connector.js';
import { PROVIDERS } from '../providers/registry.js';
import type { Services } from '../services.js';
import type { Ownership } from '../webhooks/ownership.js';
import type { Published } from '../webhooks/reconcile.js';
import { markSeen } from './apply-each.js';
import { announcePublished } from './sync.service.js';
import type { Json, PollPage, Poller } from './poller.js';
import { SyncRun, SyncRunStatus } from './sync-run.entity.js';

export interface SyncRunnerOptions {
  ownership: Ownership;
  /** Runs this process carries out at once. */
  concurrency: number;
  heartbeatSeconds: number;
  /** How often this process looks for scheduled runs that are due (pollIntervalSeconds). */
  scheduleEveryMs: number;
}

/** A page that fails for a reason that can pass is asked again this many times before the run fails. */
const PAGE_ATTEMPTS = 6;
/** Waiting on 429s (Retry-After) is not a failure, but a run gives up after waiting this long in all. */
const MAX_RATE_WAIT_MS = 15 * 60_000;

class Stopped extends Error {}

/**
 * Carries out sync runs (worker roles): each run pages through its resource at the provider and
 * commits every page's changes, its counts, its cursor and (INCREMENTAL) the resource's
 * checkpoint in one transaction, so a run stopped at any point (SIGKILL included: its queue entry
 * comes back when its heartbeat lapses) resumes after its last committed page, reading no page
 * before it again. A FULL run then ends the links of records the provider no longer has.
 */
export class SyncRunner {
  private workerId: string | null = null;
  private scheduler: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly options: SyncRunnerOptions,
  ) {}

  async start(): Promise<void> {
    await this.boss.createQueue(SYNC_QUEUE, {
      policy: 'standard',
      // A run is re-delivered only when its worker died (heartbeat lost); its own failures end it.
      retryLimit: 1_000_000,
      retryDelay: 1,
      retryBackoff: false,
      heartbeatSeconds: this.options.heartbeatSeconds,
      expireInSeconds: 86_400,
      deleteAfterSeconds: 3_600,
      // Runs are few: a queued run wakes a worker at once (polling every 2 s is the backstop, and
      // finds runs whose worker died).
      notify: true,
    });
    this.workerId = await this.boss.work<SyncQueueData>(SYNC_QUEUE, { batchSize: 1, localConcurrency: this.options.concurrency, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 }, async ([job]) => {
      const run = this.run(job.data.runId).catch((err: unknown) => this.log.error({ err, runId: job.data.runId }, 'sync run failed unexpectedly'));
      this.running.add(run);
      try {
        await run;
      } finally {
        this.running.delete(run);
      }
      // Stopping in the middle of a run: the entry goes back to the queue for another worker.
      if (this.stopping.signal.aborted) throw new Error('the worker is stopping; the run resumes elsewhere from its last page');
    });
    const tick = () =>
      this.services.sync.schedule(`schedule-${Date.now()}`).catch((err: unknown) => this.log.warn({ err }, 'could not queue scheduled sync runs'));
    this.scheduler = setInterval(tick, this.options.scheduleEveryMs);
    this.scheduler.unref();
    void tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.scheduler);
    this.stopping.abort();
    if (this.workerId) await this.boss.offWork(SYNC_QUEUE, { id: this.workerId, wait: true });
    await Promise.all(this.running);
  }

  /**
   * One process at a time carries out a run: a session advisory lock on a connection of its own,
   * which PostgreSQL lets go of when the process dies. A second queue entry for the same run
   * (resumeIntegration queues QUEUED runs again) finds it taken and ends.
   */
  async run(runId: string): Promise<void> {
    const holder = this.db.createQueryRunner();
    await holder.connect();
    try {
      const [lock] = (await holder.query(`SELECT pg_try_advisory_lock(hashtextextended('sync_run:' || $1, 0)) AS taken`, [runId])) as Array<{ taken: boolean }>;
      if (!lock.taken) return;
      try {
        await this.carryOut(runId);
      } finally {
        await holder.query(`SELECT pg_advisory_unlock(hashtextextended('sync_run:' || $1, 0))`, [runId]).catch(() => undefined);
      }
    } finally {
      await holder.release();
    }
  }

  /** Carries out (or resumes) one run until it ends, is cancelled, or its integration is paused. */
  private async carryOut(runId: string): Promise<void> {
    const signal = this.stopping.signal;
    let run = await this.db.getRepository(SyncRun).findOneBy({ id: runId });
    if (!run || (run.status !== SyncRunStatus.QUEUED && run.status !== SyncRunStatus.RUNNING)) return;
    const integration = await this.db.getRepository(Integration).findOneBy({ id: run.integrationId });
    if (!integration) return;
    // A paused integration's runs wait QUEUED; resumeIntegration queues them again.
    if (integration.status !== IntegrationStatus.ACTIVE) return void (await this.requeue(run, 'waiting: the integration is paused'));
    const poller = PROVIDERS[integration.provider]?.poller;
    if (!poller) return void (await this.finish(run, integration, SyncRunStatus.FAILED, `${integration.provider} integrations are not polled`));
    const call = this.services.sync.callContext(integration, signal);
    const labels = { integration: integration.id, resource: run.resource };
    let rateWaitMs = 0;
    try {
      if (run.status === SyncRunStatus.QUEUED || !run.cursor) {
        const [stored] = (await this.db.query(`SELECT checkpoint FROM sync_checkpoint WHERE integration_id = $1 AND resource = $2`, [integration.id, run.resource])) as Array<{ checkpoint: Json }>;
        const plan = await this.withRetries(() => poller.plan(call, run!.resource, run!.mode, stored?.checkpoint ?? null), (ms) => (rateWaitMs += ms));
        const started = (await this.db.query(
          `UPDATE sync_run SET status = 'RUNNING', started_at = COALESCE(started_at, now()), mode = $2, cursor = $3, note = $4
            WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
          [run.id, plan.mode, JSON.stringify(plan.cursor), plan.note ?? null],
        )) as [unknown[], number];
        if (started[0].length === 0) return;
        run = (await this.db.getRepository(SyncRun).findOneBy({ id: run.id }))!;
        this.announce(run, null);
      }
      const fetchPage = (at: Json): Promise<PollPage> =>
        this.withRetries(() => poller.page(call, run!.resource, at), (ms) => {
          rateWaitMs += ms;
          if (rateWaitMs > MAX_RATE_WAIT_MS) throw new ProviderError('rate_limited', `the provider kept answering 429 for ${Math.round(rateWaitMs / 60_000)} minutes`, false);
        });
      let next: Promise<PollPage> | null = run.cursor ? fetchPage(run.cursor) : null;
      while (next) {
        if (signal.aborted) throw new Stopped();
        const page: PollPage = await next;
        next = null;
        if (page.switchTo) {
          await this.db.query(`UPDATE sync_run SET mode = $2, note = $3, cursor = $4 WHERE id = $1 AND status = 'RUNNING'`, [run.id, page.switchTo.mode, page.switchTo.note, JSON.stringify(page.next)]);
          run.mode = page.switchTo.mode;
          next = page.next ? fetchPage(page.next) : null;
          continue;
        }
        // The next page is read while this one is committed: its cursor is known already. If the
        // commit fails or the run stops, what was read is dropped (the cursor stays where it was).
        if (page.next) {
          next = fetchPage(page.next);
          next.catch(() => undefined);
        }
        const committed = await this.commitPage(run, integration, poller, page);
        if (committed === 'stopped') return;
        if (committed === 'paused') return void (await this.requeue(run, 'waiting: the integration was paused mid-run; it resumes from its last page'));
        syncPages.inc(labels);
        syncRecords.inc({ ...labels, outcome: 'seen' }, page.records.length);
        syncRecords.inc({ ...labels, outcome: 'changed' }, committed.changed);
        const now = Date.now();
        for (const at of committed.changedAt) syncLag.observe(labels, Math.max(0, (now - at) / 1000));
        announcePublished(this.services.events, committed.published);
        run = committed.run;
        this.announce(run, null);
      }
      await this.complete(run, integration, poller);
    } catch (err) {
      if (err instanceof Stopped) return;
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ err, runId: run.id }, 'sync run failed');
      await this.finish(run, integration, SyncRunStatus.FAILED, message);
    }
  }

  /** A page's changes, counts, cursor and checkpoint, in one transaction (or nothing, if the run was cancelled). */
  private async commitPage(
    run: SyncRun,
    integration: Integration,
    poller: Poller,
    page: PollPage,
  ): Promise<'stopped' | 'paused' | { run: SyncRun; changed: number; changedAt: number[]; published: Published }> {
    return this.db.transaction(async (tx) => {
      const [row] = (await tx.query(
        `SELECT r.status, i.status AS integration_status FROM sync_run r JOIN integration i ON i.id = r.integration_id WHERE r.id = $1 FOR UPDATE OF r`,
        [run.id],
      )) as Array<{ status: string; integration_status: string }>;
      if (row?.status !== SyncRunStatus.RUNNING) return 'stopped' as const;
      if (row.integration_status !== IntegrationStatus.ACTIVE) return 'paused' as const;
      const apply = { tx, integration, ownership: this.options.ownership, correlationId: run.correlationId, seenBy: run.mode === 'FULL' ? run.id : null, jobs: this.services.jobs };
      const result = await poller.apply(apply, run.resource, page.records);
      if (run.mode === 'FULL' && !result.seenMarked) await markSeen(apply, poller.resources[run.resource], page.records.map((r) => r.externalId), run.id);
      await tx.query(
        `UPDATE sync_run SET cursor = $2, checkpoint = $3, pages = pages + 1, records_seen = records_seen + $4, records_changed = records_changed + $5, records_deleted = records_deleted + $6 WHERE id = $1`,
        [run.id, page.next === null ? null : JSON.stringify(page.next), page.checkpoint === null ? null : JSON.stringify(page.checkpoint), page.records.length, result.changed, result.deleted ?? 0],
      );
      if (run.mode === 'INCREMENTAL' && page.checkpoint) await this.keepCheckpoint(tx, integration.id, run.resource, page.checkpoint);
      const changedAt = page.records.filter((r) => (result.decisions.get(r.externalId) ?? []).some((d) => d.applies)).map((r) => r.at);
      // The row as the UPDATE left it (the FOR UPDATE lock above keeps anyone else from changing it).
      const after = Object.assign(Object.create(SyncRun.prototype) as SyncRun, run, {
        cursor: page.next,
        checkpoint: page.checkpoint,
        pages: run.pages + 1,
        recordsSeen: run.recordsSeen + page.records.length,
        recordsChanged: run.recordsChanged + result.changed,
        recordsDeleted: run.recordsDeleted + (result.deleted ?? 0),
      });
      return { run: after, changed: result.changed, changedAt, published: result.published };
    });
  }

  private async keepCheckpoint(tx: import('typeorm').EntityManager, integrationId: string, resource: string, checkpoint: Json): Promise<void> {
    await tx.query(
      `INSERT INTO sync_checkpoint (integration_id, resource, checkpoint, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (integration_id, resource) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = now()`,
      [integrationId, resource, JSON.stringify(checkpoint)],
    );
  }

  /**
   * The run has read everything. FULL: the links of records it did not see (and that nothing
   * touched since it started) are ended, as a deletion webhook ends them, and its checkpoint
   * becomes the resource's. Then SUCCEEDED.
   */
  private async complete(run: SyncRun, integration: Integration, poller: Poller): Promise<void> {
    const done = await this.db.transaction(async (tx) => {
      const [row] = (await tx.query(`SELECT status FROM sync_run WHERE id = $1 FOR UPDATE`, [run.id])) as Array<{ status: string }>;
      if (row?.status !== SyncRunStatus.RUNNING) return null;
      let deleted = 0;
      if (run.mode === 'FULL') {
        const [gone] = (await tx.query(
          `UPDATE external_ref SET deleted_at = now(), last_synced_at = now()
            WHERE integration_id = $1 AND entity_type = $2 AND deleted_at IS NULL AND last_seen_run IS DISTINCT FROM $3
              AND created_at < $4 AND (last_synced_at IS NULL OR last_synced_at < $4)
            RETURNING external_id`,
          [integration.id, poller.resources[run.resource], run.id, run.startedAt],
        )) as [Array<{ external_id: string }>, number];
        deleted = gone.length;
        if (run.checkpoint) await this.keepCheckpoint(tx, integration.id, run.resource, run.checkpoint);
        if (deleted > 0) {
          await tx.query(insertLogSql(1), logParams(this.logRow(run, integration, 'sync.deleted', LogStatus.SUCCESS, `${deleted} ${run.resource} no longer at ${integration.provider}: their links ended`)));
        }
      }
      await tx.query(`UPDATE sync_run SET status = 'SUCCEEDED', finished_at = now(), cursor = NULL, records_deleted = records_deleted + $2 WHERE id = $1`, [run.id, deleted]);
      syncRecords.inc({ integration: integration.id, resource: run.resource, outcome: 'deleted' }, deleted);
      return (await tx.findOneBy(SyncRun, { id: run.id }))!;
    });
    if (done) this.ended(done, integration);
  }

  private async finish(run: SyncRun, integration: Integration, status: SyncRunStatus.FAILED, error: string): Promise<void> {
    const [rows] = (await this.db.query(
      `UPDATE sync_run SET status = $2, finished_at = now(), error = $3 WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
      [run.id, status, error.slice(0, 2000)],
    )) as [unknown[], number];
    if (rows.length === 0) return;
    const log = this.logRow(run, integration, 'sync.failed', LogStatus.FAILED, error.slice(0, 2000));
    await this.db.query(insertLogSql(1), logParams(log)).catch(() => undefined);
    this.services.events.publish('log.added', log);
    const ended = await this.db.getRepository(SyncRun).findOneBy({ id: run.id });
    if (ended) this.ended(ended, integration);
  }

  private ended(run: SyncRun, integration: Integration): void {
    const seconds = run.startedAt && run.finishedAt ? (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000 : 0;
    syncRunDuration.observe({ provider: integration.provider, resource: run.resource, mode: run.mode, status: run.status }, seconds);
    this.announce(run, null);
  }

  /** Back to QUEUED, keeping its cursor: it resumes when its integration does. */
  private async requeue(run: SyncRun, note: string): Promise<void> {
    await this.db.query(`UPDATE sync_run SET status = 'QUEUED', note = $2 WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')`, [run.id, note]);
    const waiting = await this.db.getRepository(SyncRun).findOneBy({ id: run.id });
    if (waiting) this.announce(waiting, null);
  }

  /**
   * A provider call of the run, again when it fails for a reason that can pass: after the
   * provider's Retry-After for a 429 (the wait is counted, not held against the run), after a
   * growing backoff for the others, at most PAGE_ATTEMPTS times in a row.
   */
  private async withRetries<T>(call: () => Promise<T>, waited: (ms: number) => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (this.stopping.signal.aborted) throw new Stopped();
        if (!(err instanceof ProviderError) || !err.retryable) throw err;
        const rateLimited = err.kind === 'rate_limited';
        if (!rateLimited && attempt >= PAGE_ATTEMPTS) throw err;
        const wait = err.retryAfterMs ?? (rateLimited ? 1000 : Math.min(30_000, 500 * 2 ** (attempt - 1)));
        if (rateLimited) waited(wait);
        await sleep(wait, undefined, { signal: this.stopping.signal }).catch(() => {
          throw new Stopped();
        });
        if (rateLimited) attempt--;
      }
    }
  }

  private logRow(run: SyncRun, integration: Integration, eventType: string, status: LogStatus, message: string): IntegrationLog {
    return Object.assign(new IntegrationLog(), {
      id: newId(),
      service: logService(integration.provider),
      eventType,
      direction: Direction.INBOUND,
      status,
      timestamp: new Date(),
      errorMsg: status === LogStatus.FAILED ? message : null,
      correlationId: run.correlationId,
      integrationId: integration.id,
      jobId: null,
      webhookEventId: null,
      httpStatus: null,
      durationMs: null,
      attempt: null,
      request: { syncRunId: run.id, resource: run.resource, mode: run.mode },
      response: status === LogStatus.FAILED ? null : { note: message },
    });
  }

  private announce(run: SyncRun, _note: string | null): void {
    this.services.events.publish('sync.updated', run);
  }
}
