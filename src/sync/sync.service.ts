import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import type { CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import { ExternalRef } from '../domain/external-ref/external-ref.entity.js';
import { effectiveSettings } from '../domain/integration/integration-settings.js';
import { Integration, IntegrationStatus } from '../domain/integration/integration.entity.js';
import type { IntegrationService } from '../domain/integration/integration.service.js';
import { badInput, conflict, notFound } from '../domain/shared/errors.js';
import { newId } from '../domain/shared/ids.js';
import { paginate, type Connection, type PageArgs } from '../domain/shared/pagination.js';
import type { OutboundHttp } from '../http/outbound-policy.js';
import type { EventBus } from '../jobs/job-events.js';
import type { JobService } from '../jobs/job.service.js';
import { queueDb } from '../jobs/queue.js';
import { SYNC_QUEUE, type SyncQueueData } from '../jobs/queue-names.js';
import type { SharedRate } from '../jobs/shared-rate.js';
import { recordAudit } from '../observability/audit.js';
import type { CallContext } from '../providers/connector.js';
import { PROVIDERS } from '../providers/registry.js';
import type { Ownership } from '../webhooks/ownership.js';
import type { FieldDecision, Published } from '../webhooks/reconcile.js';
import type { Poller, SyncMode } from './poller.js';
import { SyncRun, SyncRunStatus } from './sync-run.entity.js';

export interface SyncRunFilter {
  integrationId?: string | null;
  status?: SyncRunStatus | null;
  resource?: string | null;
}

export interface RehydrateResult {
  changes: FieldDecision[];
  applied: boolean;
}

/** Tells subscribers of what a committed page or rehydrate changed. */
export function announcePublished(events: EventBus, published: Published): void {
  for (const c of published.customers) events.publish('customer.updated', c);
  for (const i of published.invoices) events.publish('invoice.updated', i);
  for (const k of published.contracts) events.publish('contract.updated', k);
  for (const j of published.jobs) events.publish('job.updated', j);
  for (const l of published.logs) events.publish('log.added', l);
}

/** Thrown to roll a dry run's transaction back once its decisions are known. */
class DryRun extends Error {}

/** What published changes the page or rehydrate made, for the caller to announce after the commit. */
export type Announce = (published: Published) => void;

/**
 * Sync runs: queued (startSync, schedules), listed, cancelled; and rehydrate. The runs themselves
 * are carried out by the SyncRunner on worker processes.
 */
export class SyncService {
  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly integrations: IntegrationService,
    private readonly events: EventBus,
    private readonly outbound: OutboundHttp,
    private readonly rate: SharedRate,
    private readonly ownership: Ownership,
    private readonly jobs: JobService,
  ) {}

  /** The poller of an integration's provider, or BAD_USER_INPUT. */
  pollerOf(integration: Integration, field = 'integrationId'): Poller {
    const poller = PROVIDERS[integration.provider]?.poller;
    if (!poller) throw badInput(field, `${integration.provider} integrations are not polled (no sync runs)`);
    return poller;
  }

  /** How a sync run or rehydrate calls the provider: its credentials, time limit, shared rate limit and outbound policy. */
  callContext(integration: Integration, signal?: AbortSignal): CallContext {
    const settings = effectiveSettings(integration.settings, PROVIDERS[integration.provider].defaultRequestsPerSecond);
    return {
      baseUrl: integration.baseUrl,
      credentials: (this.integrations.credentialsOf(integration) ?? {}) as Record<string, unknown>,
      timeoutMs: settings.timeoutMs,
      signal,
      refs: async () => null,
      pace: () => this.rate.take(integration.id, settings.requestsPerSecond),
      outbound: this.outbound,
    };
  }

  /**
   * Queues a run (a row and its queue entry, in one transaction). One QUEUED or RUNNING run per
   * integration and resource: a second is CONFLICT naming the one there is.
   */
  async start(integrationId: string, resource: string, mode: SyncMode, options: { correlationId: string; requestedBy?: 'api' | 'schedule' }): Promise<SyncRun> {
    const integration = await this.integrations.get(integrationId);
    const poller = this.pollerOf(integration);
    if (!(resource in poller.resources)) throw badInput('resource', `${integration.provider} resources are ${Object.keys(poller.resources).join(', ')}`);
    if (integration.status === IntegrationStatus.DISABLED) throw badInput('integrationId', 'the integration is disabled');
    const run = await this.db.transaction(async (tx) => {
      const id = newId();
      const rows = (await tx.query(
        `INSERT INTO sync_run (id, integration_id, resource, mode, status, requested_by, correlation_id)
         VALUES ($1, $2, $3, $4, 'QUEUED', $5, $6)
         ON CONFLICT (integration_id, resource) WHERE status IN ('QUEUED', 'RUNNING') DO NOTHING RETURNING id`,
        [id, integration.id, resource, mode, options.requestedBy ?? 'api', options.correlationId],
      )) as Array<{ id: string }>;
      if (rows.length === 0) {
        const active = await tx.findOneBy(SyncRun, { integrationId: integration.id, resource, status: SyncRunStatus.QUEUED });
        const running = active ?? (await tx.findOneBy(SyncRun, { integrationId: integration.id, resource, status: SyncRunStatus.RUNNING }));
        throw conflict(`a ${running?.mode ?? ''} run of ${resource} is already ${running?.status.toLowerCase() ?? 'queued'}`.replace('  ', ' '), { syncRunId: running?.id ?? null });
      }
      await this.enqueue(tx, [id]);
      await recordAudit(tx, { action: 'startSync', targetType: 'SyncRun', targetId: id, after: { integrationId: integration.id, resource, mode, requestedBy: options.requestedBy ?? 'api' } });
      const saved = (await tx.findOneBy(SyncRun, { id }))!;
      await this.events.publishWithCommit(tx, 'sync.updated', [saved]);
      return saved;
    });
    this.events.publish('sync.updated', run);
    return run;
  }

  private async enqueue(tx: import('typeorm').EntityManager, runIds: string[]): Promise<void> {
    if (runIds.length === 0) return;
    await this.boss.insert(
      SYNC_QUEUE,
      runIds.map((runId) => ({ data: { runId } satisfies SyncQueueData })),
      { db: queueDb(tx) },
    );
  }

  /** QUEUED: cancelled at once. RUNNING: its runner stops before its next page. Otherwise CONFLICT. */
  async cancel(id: string): Promise<SyncRun> {
    const run = await this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE sync_run SET status = 'CANCELLED', finished_at = now(), note = COALESCE(note || '; ', '') || 'cancelled'
          WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
        [id],
      )) as [Array<{ id: string }>, number];
      if (rows[0].length === 0) {
        const current = await tx.findOneBy(SyncRun, { id });
        if (!current) throw notFound('SyncRun');
        throw conflict(`only QUEUED or RUNNING runs can be cancelled; this one is ${current.status}`);
      }
      await recordAudit(tx, { action: 'cancelSync', targetType: 'SyncRun', targetId: id, after: { status: SyncRunStatus.CANCELLED } });
      const saved = (await tx.findOneBy(SyncRun, { id }))!;
      await this.events.publishWithCommit(tx, 'sync.updated', [saved]);
      return saved;
    });
    this.events.publish('sync.updated', run);
    return run;
  }

  /** After resumeIntegration: runs a pause left QUEUED get a queue entry again. */
  async wakeQueued(integrationId: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(`SELECT id FROM sync_run WHERE integration_id = $1 AND status = 'QUEUED'`, [integrationId])) as Array<{ id: string }>;
      await this.enqueue(tx, rows.map((r) => r.id));
      return rows.length;
    });
  }

  /**
   * Queues an INCREMENTAL run of every resource whose integration's `pollIntervalSeconds` has
   * passed since its last run was queued: ACTIVE integrations only (a pause pauses them), none
   * while one is QUEUED or RUNNING. Safe from any number of processes at once (the unique index).
   */
  async schedule(correlationId: string): Promise<number> {
    const due = (await this.db.query(
      `SELECT i.id, i.provider, (i.settings->>'pollIntervalSeconds')::int AS every
         FROM integration i
        WHERE i.status = 'ACTIVE' AND COALESCE((i.settings->>'pollIntervalSeconds')::int, 0) > 0`,
    )) as Array<{ id: string; provider: keyof typeof PROVIDERS; every: number }>;
    let queued = 0;
    for (const row of due) {
      const poller = PROVIDERS[row.provider]?.poller;
      if (!poller) continue;
      for (const resource of Object.keys(poller.resources)) {
        const inserted = await this.db.transaction(async (tx) => {
          const rows = (await tx.query(
            `INSERT INTO sync_run (id, integration_id, resource, mode, status, requested_by, correlation_id)
             SELECT $1, $2, $3, 'INCREMENTAL', 'QUEUED', 'schedule', $4
              WHERE NOT EXISTS (SELECT 1 FROM sync_run r WHERE r.integration_id = $2 AND r.resource = $3 AND r.queued_at > now() - make_interval(secs => $5))
             ON CONFLICT (integration_id, resource) WHERE status IN ('QUEUED', 'RUNNING') DO NOTHING RETURNING id`,
            [newId(), row.id, resource, correlationId, row.every],
          )) as Array<{ id: string }>;
          await this.enqueue(tx, rows.map((r) => r.id));
          return rows;
        });
        for (const r of inserted) this.events.publish('sync.updated', { id: r.id, integrationId: row.id });
        queued += inserted.length;
      }
    }
    return queued;
  }

  async get(id: string): Promise<SyncRun> {
    const run = await this.db.getRepository(SyncRun).findOneBy({ id });
    if (!run) throw notFound('SyncRun');
    return run;
  }

  findByIds(ids: readonly string[]): Promise<SyncRun[]> {
    return this.db.getRepository(SyncRun).findBy(ids.map((id) => ({ id })));
  }

  list(filter: SyncRunFilter, page: PageArgs): Promise<Connection<SyncRun>> {
    const qb = this.db.getRepository(SyncRun).createQueryBuilder('r');
    if (filter.integrationId) qb.andWhere('r.integrationId = :integrationId', { integrationId: filter.integrationId });
    if (filter.status) qb.andWhere('r.status = :status', { status: filter.status });
    if (filter.resource) qb.andWhere('r.resource = :resource', { resource: filter.resource });
    return paginate(qb, page);
  }

  /**
   * Reads the record linked to `entityId` at the integration as the provider holds it now, and
   * weighs each field as a sync run would (ownership, order). `dryRun`: nothing is written (the
   * transaction is rolled back); otherwise what applies is applied, as source POLL.
   */
  async rehydrate(entityId: string, integrationId: string, dryRun: boolean, correlationId: string, announce: Announce): Promise<RehydrateResult> {
    const integration = await this.integrations.get(integrationId);
    const poller = this.pollerOf(integration);
    const refs = await this.db.getRepository(ExternalRef).findBy({ integrationId: integration.id, entityId });
    const ref = refs.find((r) => !r.deletedAt) ?? refs[0];
    if (!ref) throw badInput('entityId', 'the record is not linked to this integration (nothing to read back)');
    const found = await poller.read(this.callContext(integration), ref.entityType as CanonicalEntityType, ref.externalId);
    if (!found) throw badInput('entityId', `${integration.provider} no longer has ${ref.externalId}`);
    let decisions: FieldDecision[] = [];
    try {
      const published = await this.db.transaction(async (tx) => {
        const page = { tx, integration, ownership: this.ownership, correlationId, seenBy: null, jobs: dryRun ? null : this.jobs };
        const result = await poller.apply(page, found.resource, [found.record]);
        decisions = result.decisions.get(ref.externalId) ?? [];
        if (dryRun) throw new DryRun();
        await recordAudit(tx, {
          action: 'rehydrate',
          targetType: ref.entityType,
          targetId: entityId,
          details: { integrationId: integration.id, applied: decisions.filter((d) => d.applies).map((d) => d.field) },
        });
        return result.published;
      });
      announce(published);
    } catch (err) {
      if (!(err instanceof DryRun)) throw err;
    }
    return { changes: decisions, applied: !dryRun && decisions.some((d) => d.applies) };
  }
}
