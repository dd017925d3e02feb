import { recordAudit } from '../observability/audit.js';
import type { PgBoss } from 'pg-boss';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { PROVIDERS } from '../providers/registry.js';
import type { Contract } from '../domain/contract/contract.entity.js';
import { Customer } from '../domain/customer/customer.entity.js';
import { Integration, IntegrationStatus } from '../domain/integration/integration.entity.js';
import { effectiveSettings } from '../domain/integration/integration-settings.js';
import { Invoice, InvoiceLineItem, InvoiceStatus } from '../domain/invoice/invoice.entity.js';
import { IntegrationJob, JobStatus } from '../domain/job/integration-job.entity.js';
import { IntegrationLog, JOB_LOGS_SHOWN } from '../domain/job/integration-log.entity.js';
import { badInput, conflict, notFound } from '../domain/shared/errors.js';
import { newId, toGlobalId } from '../domain/shared/ids.js';
import { fromMinorUnits } from '../domain/shared/money.js';
import { ChangeSource } from '../domain/shared/field-origins.js';
import { canonicalValues, hashesOf, holdsAll, type SyncedHashes } from '../domain/shared/synced-values.js';
import { syncSuppressed } from '../observability/metrics.js';
import { paginate, type Connection, type PageArgs } from '../domain/shared/pagination.js';
import { optionalEmail, requiredText } from '../domain/shared/validation.js';
import type { EventBus } from './job-events.js';
import { JOB_COLUMN_LIST, jobFromRow } from './job-row.js';
import { LEGACY_OUTBOUND_QUEUE, OUTBOUND_QUEUE, QUEUE_SCHEMA, type OutboundQueueData } from './queue-names.js';
import { outboundTable, queueDb } from './queue.js';
import { prepared, preparedIn } from '../db/prepared.js';
import type { Pool } from 'pg';
import { groupUngrouped } from './fair-fetch.js';

export interface EnqueueRequest {
  integration: Integration;
  operation: string;
  entityType: 'Customer' | 'Contract' | 'Invoice' | null;
  entityId: string | null;
  payload: Record<string, unknown>;
  idempotencyKey?: string | null;
  correlationId: string;
  /** The change that caused the job; API when absent. */
  cause?: ChangeCause;
  /** Hashes of the mapped fields it sends, kept on its link once the provider acknowledges them. */
  syncedHashes?: SyncedHashes | null;
}

/** Where a change came from: the jobs it causes say so, and skip the integration it came from. */
export interface ChangeCause {
  source: ChangeSource;
  integrationId: string | null;
}

export const API_CAUSE: ChangeCause = { source: ChangeSource.API, integrationId: null };

export interface JobFilter {
  integrationId?: string | null;
  status?: JobStatus | null;
  entityId?: string | null;
  correlationId?: string | null;
  operation?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
}

export interface LogFilter {
  integrationId?: string | null;
  jobId?: string | null;
  webhookEventId?: string | null;
  correlationId?: string | null;
  status?: string | null;
  direction?: string | null;
  since?: Date | null;
  until?: Date | null;
}

export interface NotificationInput {
  to: string;
  from: string;
  templateId: string;
  kind?: string | null;
  data?: unknown;
  customerId?: string | null;
  invoiceId?: string | null;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The most customers one pushCustomers call enqueues. */
export const MAX_BULK_PUSH = 500;

interface QueueEntry {
  queueJobId: string;
  jobId: string;
  integrationId: string;
}

/**
 * The lock that orders one entity's jobs at one integration as they commit: taken before the
 * job's `seq` is drawn and held to the commit, so a job whose row is visible has every job of its
 * entity with a lower `seq` visible too. Without it, a transaction that drew the lower number but
 * committed later let its job start beside (not after) the other (the start statement would not
 * have seen it). `$1` is the JSON rows of INSERT_JOBS_SQL; locks are taken in key order (no
 * deadlock between two enqueues), as transaction-level advisory locks (at most MAX_BULK_PUSH).
 */
const ENTITY_ORDER_LOCKS = `SELECT count(pg_advisory_xact_lock(k)) FROM (
    SELECT DISTINCT hashtextextended('switchboard:job-order:' || integration_id || ':' || entity_type || ':' || entity_id, 0) AS k
    FROM jsonb_to_recordset($1::jsonb) AS x(integration_id uuid, entity_type text, entity_id uuid)
    WHERE entity_id IS NOT NULL ORDER BY 1) AS keys`;

/**
 * New jobs from a JSON array of rows (enqueueMany); a row whose idempotency key was used is
 * skipped. The entity-order locks come first (a materialised CTE the insert reads, evaluated
 * before the first row and its `seq`).
 */
const INSERT_JOBS_SQL = `
  WITH locked AS MATERIALIZED (${ENTITY_ORDER_LOCKS})
  INSERT INTO integration_job (id, integration_id, operation, entity_type, entity_id, status, attempts, max_attempts,
                               correlation_id, idempotency_key, provider_idempotency_key, payload, queue_job_id, source, source_integration_id, synced_hashes)
  SELECT id, integration_id, operation, entity_type, entity_id, 'PENDING', 0, max_attempts,
         correlation_id, idempotency_key, provider_idempotency_key, payload, queue_job_id, source, source_integration_id, synced_hashes
  FROM locked, jsonb_to_recordset($1::jsonb) AS x(id uuid, integration_id uuid, operation text, entity_type text, entity_id uuid, max_attempts int,
                                          correlation_id text, idempotency_key text, provider_idempotency_key text, payload jsonb, queue_job_id uuid,
                                          source text, source_integration_id uuid, synced_hashes jsonb)
  ON CONFLICT (integration_id, idempotency_key) DO NOTHING
  RETURNING ${JOB_COLUMN_LIST}`;

export function customerPayload(c: Customer): Record<string, unknown> {
  return { customerId: c.id, name: c.name, email: c.email, phone: c.phone, taxId: c.taxId, currency: c.currency };
}

export function contractPayload(k: Contract): Record<string, unknown> {
  const stage: Record<string, string> = { DRAFT: 'appointmentscheduled', ACTIVE: 'closedwon', SUSPENDED: 'contractsent', TERMINATED: 'closedlost', EXPIRED: 'closedlost' };
  return {
    contractId: k.id,
    customerId: k.customerId,
    title: k.title,
    status: k.status,
    dealstage: stage[k.status],
    amount: k.valueMinor && k.valueCurrency ? fromMinorUnits(k.valueMinor, k.valueCurrency) : null,
    currency: k.valueCurrency,
    endDate: k.endDate?.toISOString() ?? null,
  };
}

/**
 * Outbound jobs: enqueued in the caller's transaction, tracked in integration_job, run by the
 * outbound worker. Operator actions (retry, cancel, replay) live here too.
 */
export class JobService {
  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly events: EventBus,
  ) {}

  /**
   * Inserts the job row and its queue entry in `tx`. The same idempotency key for the same
   * integration returns the job it first made, and enqueues nothing.
   */
  async enqueue(tx: EntityManager, req: EnqueueRequest): Promise<IntegrationJob> {
    return (await this.enqueueMany(tx, [req]))[0];
  }

  /**
   * enqueue() for many jobs: their rows in one statement, their queue entries in another, their
   * PENDING in one NOTIFY statement. The jobs come back in the order asked.
   */
  async enqueueMany(tx: EntityManager, reqs: EnqueueRequest[]): Promise<IntegrationJob[]> {
    const rows = reqs.map((req) => {
      const descriptor = PROVIDERS[req.integration.provider];
      if (!descriptor.connector?.operations[req.operation]) {
        throw badInput('integrationId', `a ${req.integration.provider} integration does not support ${req.operation}`);
      }
      // A provider called through mappings (GENERIC) supports only the operations this integration maps.
      if (descriptor.parseMappings && !(req.operation in (req.integration.mappings ?? {}))) {
        throw badInput('integrationId', `this ${req.integration.provider} integration has no mapping for ${req.operation} (updateIntegration with mappings adds one)`);
      }
      if (req.integration.status === IntegrationStatus.DISABLED) throw badInput('integrationId', 'the integration is disabled');
      if (req.idempotencyKey != null && !IDEMPOTENCY_KEY.test(req.idempotencyKey)) {
        throw badInput('idempotencyKey', 'idempotencyKey must be 1 to 200 printable ASCII characters without spaces');
      }
      const id = newId();
      return {
        id,
        integration_id: req.integration.id,
        operation: req.operation,
        entity_type: req.entityType,
        entity_id: req.entityId,
        max_attempts: effectiveSettings(req.integration.settings, descriptor.defaultRequestsPerSecond).maxAttempts,
        correlation_id: req.correlationId,
        idempotency_key: req.idempotencyKey ?? null,
        provider_idempotency_key: `switchboard-${id}`,
        payload: req.payload,
        queue_job_id: newId(),
        source: (req.cause ?? API_CAUSE).source,
        source_integration_id: (req.cause ?? API_CAUSE).integrationId,
        synced_hashes: req.syncedHashes ?? null,
      };
    });
    const inserted = new Map((await preparedIn(tx, 'switchboard_insert_jobs', INSERT_JOBS_SQL, [JSON.stringify(rows)])).map((r) => [r.id as string, jobFromRow(r)]));
    const fresh = rows.filter((r) => inserted.has(r.id));
    const repeats = rows.filter((r) => !inserted.has(r.id));
    const earlier = new Map<string, IntegrationJob>();
    if (repeats.length > 0) {
      const found = (await tx.query(
        `SELECT * FROM integration_job WHERE (integration_id, idempotency_key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
        [repeats.map((r) => r.integration_id), repeats.map((r) => r.idempotency_key)],
      )) as Record<string, unknown>[];
      for (const row of found) earlier.set(`${row.integration_id}|${row.idempotency_key}`, jobFromRow(row));
      for (const r of repeats) {
        const existing = earlier.get(`${r.integration_id}|${r.idempotency_key}`)!;
        if (existing.operation !== r.operation || existing.entityId !== r.entity_id) {
          throw conflict('idempotencyKey was already used for a different operation or entity', { jobId: existing.id });
        }
      }
    }
    await this.send(
      tx,
      fresh.map((r) => ({ queueJobId: r.queue_job_id, jobId: r.id, integrationId: r.integration_id })),
    );
    await this.changedIn(tx, fresh.map((r) => inserted.get(r.id)!));
    return rows.map((r) => inserted.get(r.id) ?? earlier.get(`${r.integration_id}|${r.idempotency_key}`)!);
  }

  /** Jobs whose change this process made and must announce (an idempotent repeat changes nothing). */
  private readonly changed = new WeakSet<IntegrationJob>();

  /**
   * The jobs' new state goes to other processes with `tx` itself (EventBus.publishWithCommit):
   * a PENDING can never reach a subscriber after the PROCESSING of a worker that started it.
   */
  private async changedIn(tx: EntityManager, jobs: IntegrationJob[]): Promise<void> {
    await this.events.publishWithCommit(tx, 'job.updated', jobs);
    for (const job of jobs) this.changed.add(job);
  }

  /** Queue entries for jobs, in one statement (pg-boss insert) in `tx`, each in its integration's group. */
  private async send(tx: EntityManager, entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.boss.insert(
      OUTBOUND_QUEUE,
      entries.map((e) => ({
        id: e.queueJobId,
        data: { jobId: e.jobId, integrationId: e.integrationId } satisfies OutboundQueueData,
        // The fair fetch shares worker places out by integration (src/jobs/fair-fetch.ts).
        group: { id: e.integrationId },
      })),
      { db: queueDb(tx), returnId: false },
    );
  }

  /**
   * A fresh queue entry for an existing job (retry, replay). The job also takes a fresh place in
   * its entity's order (`seq`): enqueued again, it goes after the jobs enqueued meanwhile, as a
   * new job would.
   */
  private async queue(tx: EntityManager, job: IntegrationJob): Promise<void> {
    const queueJobId = newId();
    await this.send(tx, [{ queueJobId, jobId: job.id, integrationId: job.integrationId }]);
    await tx.query(ENTITY_ORDER_LOCKS, [JSON.stringify([{ integration_id: job.integrationId, entity_type: job.entityType, entity_id: job.entityId }])]);
    await tx.query(`UPDATE integration_job SET queue_job_id = $2, seq = nextval('integration_job_seq') WHERE id = $1`, [job.id, queueJobId]);
  }

  /**
   * Publishes jobs after the transaction that changed them committed. A job an idempotency key
   * returned unchanged is not published again: subscribers get each change once.
   */
  announce(jobs: IntegrationJob[]): void {
    for (const job of jobs) if (this.changed.has(job)) this.events.publish('job.updated', job);
  }

  private async integration(tx: EntityManager, integrationId: string): Promise<Integration> {
    const integration = await tx.findOneBy(Integration, { id: integrationId });
    if (!integration) throw badInput('integrationId', 'integrationId names no integration');
    return integration;
  }

  /** Jobs for every integration set to auto-sync this entity, in the caller's transaction (see autoSyncMany). */
  async autoSync(tx: EntityManager, entityType: 'Customer' | 'Contract', entity: Customer | Contract, correlationId: string, cause: ChangeCause = API_CAUSE): Promise<IntegrationJob[]> {
    return this.autoSyncMany(tx, entityType, [entity], correlationId, cause);
  }

  /**
   * A change's fan-out, in the transaction that made it: a job for every integration (not
   * DISABLED) set to auto-sync the entity type, except the integration the change came from
   * (`cause.integrationId`; with `only`, just that one: a conflict's correction). A job is not
   * enqueued when the provider already holds every field the operation carries (its link's
   * hashes) and no earlier job of the record is unfinished there: counted as a no-op.
   */
  async autoSyncMany(
    tx: EntityManager,
    entityType: 'Customer' | 'Contract',
    entities: ReadonlyArray<Customer | Contract>,
    correlationId: string,
    cause: ChangeCause = API_CAUSE,
    only: string | null = null,
    /** Added to each job's payload (`verifyFirst`: a repair that reads the provider before writing). */
    extra?: Record<string, unknown>,
  ): Promise<IntegrationJob[]> {
    if (entities.length === 0) return [];
    const integrations = await tx
      .createQueryBuilder(Integration, 'i')
      .where(':type = ANY(i.auto_sync) AND i.status <> :disabled', { type: entityType, disabled: IntegrationStatus.DISABLED })
      .andWhere(only ? 'i.id = :only' : cause.integrationId ? 'i.id <> :source' : 'TRUE', { only, source: cause.integrationId })
      .orderBy('i.id')
      .getMany();
    const targets = integrations.filter((i) => PROVIDERS[i.provider].autoSync[entityType]);
    if (targets.length === 0) return [];
    const ids = entities.map((e) => e.id);
    const [links, unfinished] = await Promise.all([
      tx.query(
        `SELECT integration_id, entity_id, synced_hashes FROM external_ref
          WHERE entity_type = $1 AND entity_id = ANY($2::uuid[]) AND integration_id = ANY($3::uuid[]) AND deleted_at IS NULL`,
        [entityType, ids, targets.map((i) => i.id)],
      ) as Promise<Array<{ integration_id: string; entity_id: string; synced_hashes: SyncedHashes }>>,
      tx.query(
        `SELECT DISTINCT integration_id, entity_id FROM integration_job
          WHERE entity_type = $1 AND entity_id = ANY($2::uuid[]) AND integration_id = ANY($3::uuid[]) AND status IN ('PENDING', 'RETRYING', 'PROCESSING')`,
        [entityType, ids, targets.map((i) => i.id)],
      ) as Promise<Array<{ integration_id: string; entity_id: string }>>,
    ]);
    const held = new Map(links.map((l) => [`${l.integration_id}:${l.entity_id}`, l.synced_hashes]));
    const busy = new Set(unfinished.map((u) => `${u.integration_id}:${u.entity_id}`));
    const reqs: EnqueueRequest[] = [];
    for (const integration of targets) {
      const module = PROVIDERS[integration.provider];
      for (const entity of entities) {
        const values = canonicalValues(entityType, entity);
        const hashes = hashesOf(values, module.syncedFields?.[entityType] ?? Object.keys(values));
        const key = `${integration.id}:${entity.id}`;
        if (!busy.has(key) && holdsAll(held.get(key), hashes)) {
          syncSuppressed.inc({ integration: integration.id, kind: 'noop' });
          continue;
        }
        const payload = { ...(entityType === 'Customer' ? customerPayload(entity as Customer) : contractPayload(entity as Contract)), ...extra };
        reqs.push({ integration, operation: module.autoSync[entityType]!, entityType, entityId: entity.id, payload, correlationId, cause, syncedHashes: hashes });
      }
    }
    return reqs.length ? this.enqueueMany(tx, reqs) : [];
  }

  /**
   * The audit row of a mutation that started jobs: one row for the request, naming the jobs it
   * created (an idempotent repeat that created none writes none). In the jobs' transaction.
   */
  private async auditStarted(tx: EntityManager, action: string, integrationId: string, jobs: IntegrationJob[]): Promise<void> {
    const fresh = jobs.filter((j) => this.changed.has(j));
    if (fresh.length === 0) return;
    await recordAudit(tx, {
      action,
      targetType: fresh.length === 1 ? 'IntegrationJob' : 'Integration',
      targetId: fresh.length === 1 ? fresh[0].id : integrationId,
      after: { operation: fresh[0].operation, integrationId, jobs: fresh.length, status: JobStatus.PENDING },
    });
  }

  async pushCustomer(customerId: string, integrationId: string, idempotencyKey: string | null | undefined, correlationId: string): Promise<IntegrationJob> {
    const [job] = await this.pushCustomersOf([customerId], integrationId, idempotencyKey, correlationId, () => 'customerId', (key) => key, 'pushCustomer');
    return job;
  }

  /**
   * pushCustomer for up to MAX_BULK_PUSH customers, in one transaction: one job each, in the order
   * given. With an idempotency key, customer c's job is keyed `<key>:<c's global id>`, so a repeat returns
   * the same jobs and enqueues only customers the first call did not name.
   */
  async pushCustomers(customerIds: string[], integrationId: string, idempotencyKey: string | null | undefined, correlationId: string): Promise<IntegrationJob[]> {
    if (customerIds.length === 0 || customerIds.length > MAX_BULK_PUSH) throw badInput('customerIds', `customerIds must name 1 to ${MAX_BULK_PUSH} customers`);
    const seen = new Set<string>();
    const twice = customerIds.findIndex((id) => seen.size === seen.add(id).size);
    if (twice >= 0) throw badInput(`customerIds[${twice}]`, `customerIds[${twice}] names a customer already in the list`);
    if (idempotencyKey != null && idempotencyKey.length > 139) throw badInput('idempotencyKey', 'the idempotencyKey of pushCustomers must be at most 139 characters');
    return this.pushCustomersOf(customerIds, integrationId, idempotencyKey, correlationId, (i) => `customerIds[${i}]`, (key, id) => `${key}:${toGlobalId('Customer', id)}`, 'pushCustomers');
  }

  private async pushCustomersOf(
    customerIds: string[],
    integrationId: string,
    idempotencyKey: string | null | undefined,
    correlationId: string,
    field: (index: number) => string,
    jobKey: (key: string, customerId: string) => string,
    action: string,
  ): Promise<IntegrationJob[]> {
    const jobs = await this.db.transaction(async (tx) => {
      const customers = new Map((await tx.findBy(Customer, { id: In(customerIds) })).map((c) => [c.id, c]));
      const missing = customerIds.findIndex((id) => !customers.has(id));
      if (missing >= 0) throw badInput(field(missing), `${field(missing)} names no customer`);
      const integration = await this.integration(tx, integrationId);
      const started = await this.enqueueMany(
        tx,
        customerIds.map((id) => ({
          integration,
          operation: 'customer.upsert',
          entityType: 'Customer' as const,
          entityId: id,
          payload: customerPayload(customers.get(id)!),
          idempotencyKey: idempotencyKey == null ? idempotencyKey : jobKey(idempotencyKey, id),
          correlationId,
        })),
      );
      await this.auditStarted(tx, action, integrationId, started);
      return started;
    });
    this.announce(jobs);
    return jobs;
  }

  async sendInvoice(invoiceId: string, integrationId: string, idempotencyKey: string | null | undefined, correlationId: string): Promise<IntegrationJob> {
    const job = await this.db.transaction(async (tx) => {
      const invoice = await tx.findOneBy(Invoice, { id: invoiceId });
      if (!invoice) throw badInput('invoiceId', 'invoiceId names no invoice');
      if (invoice.status === InvoiceStatus.VOID || invoice.status === InvoiceStatus.PAID) {
        throw badInput('invoiceId', `a ${invoice.status} invoice cannot be sent`);
      }
      const customer = (await tx.findOneBy(Customer, { id: invoice.customerId }))!;
      const lines = await tx.find(InvoiceLineItem, { where: { invoiceId }, order: { position: 'ASC' } });
      const integration = await this.integration(tx, integrationId);
      const started = await this.enqueue(tx, {
        integration,
        operation: 'invoice.send',
        entityType: 'Invoice',
        entityId: invoice.id,
        idempotencyKey,
        correlationId,
        payload: {
          invoiceId: invoice.id,
          customerId: customer.id,
          customer: customerPayload(customer),
          number: invoice.number,
          currency: invoice.currency,
          dueAt: invoice.dueAt?.toISOString() ?? null,
          // Fixed when enqueued: every attempt must send Stripe the same parameters.
          daysUntilDue: invoice.dueAt ? Math.max(0, Math.ceil((invoice.dueAt.getTime() - Date.now()) / 86_400_000)) : 30,
          taxMinor: invoice.taxMinor,
          lineItems: lines.map((l) => ({ description: l.description, quantity: l.quantity, amountMinor: l.amountMinor })),
        },
      });
      await this.auditStarted(tx, 'sendInvoice', integrationId, [started]);
      return started;
    });
    this.announce([job]);
    return job;
  }

  async sendNotification(integrationId: string, input: NotificationInput, idempotencyKey: string | null | undefined, correlationId: string): Promise<IntegrationJob> {
    const to = optionalEmail(input.to, 'input.to');
    const from = optionalEmail(input.from, 'input.from');
    if (!to) throw badInput('input.to', 'input.to is required');
    if (!from) throw badInput('input.from', 'input.from is required');
    const templateId = requiredText(input.templateId, 'input.templateId', 100);
    if (!/^d-[0-9a-f]{32}$/i.test(templateId)) throw badInput('input.templateId', 'input.templateId must be a dynamic template id (d- and 32 hex digits)');
    if (input.data != null && (typeof input.data !== 'object' || Array.isArray(input.data))) throw badInput('input.data', 'input.data must be an object');
    const job = await this.db.transaction(async (tx) => {
      const integration = await this.integration(tx, integrationId);
      const started = await this.enqueue(tx, {
        integration,
        operation: 'notification.send',
        entityType: input.invoiceId ? 'Invoice' : input.customerId ? 'Customer' : null,
        entityId: input.invoiceId ?? input.customerId ?? null,
        idempotencyKey,
        correlationId,
        payload: { to, from, templateId, kind: input.kind ?? 'notification', data: input.data ?? {}, customerId: input.customerId ?? null, invoiceId: input.invoiceId ?? null },
      });
      await this.auditStarted(tx, 'sendNotification', integrationId, [started]);
      return started;
    });
    this.announce([job]);
    return job;
  }

  /** FAILED or CANCELLED -> PENDING, with a fresh round of attempts and the same provider key. */
  async retry(jobId: string, action = 'retryIntegrationJob'): Promise<IntegrationJob> {
    const job = await this.db.transaction(async (tx) => {
      const job = await tx.findOne(IntegrationJob, { where: { id: jobId }, lock: { mode: 'pessimistic_write' } });
      if (!job) throw notFound('IntegrationJob');
      if (job.status !== JobStatus.FAILED && job.status !== JobStatus.CANCELLED) {
        throw conflict(`only FAILED or CANCELLED jobs can be retried; this one is ${job.status}`);
      }
      await tx.query(
        `UPDATE integration_job SET status = 'PENDING', attempts = 0, next_attempt_at = NULL, completed_at = NULL, updated_at = now() WHERE id = $1`,
        [job.id],
      );
      await this.queue(tx, job);
      const retried = (await tx.findOneBy(IntegrationJob, { id: job.id }))!;
      await this.changedIn(tx, [retried]);
      await recordAudit(tx, { action, targetType: 'IntegrationJob', targetId: job.id, before: { status: job.status }, after: { status: retried.status } });
      return retried;
    });
    this.announce([job]);
    return job;
  }

  /** PENDING or RETRYING -> CANCELLED; a job already running finishes its attempt. */
  async cancel(jobId: string): Promise<IntegrationJob> {
    const job = await this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE integration_job SET status = 'CANCELLED', updated_at = now(), next_attempt_at = NULL
         WHERE id = $1 AND status IN ('PENDING', 'RETRYING') RETURNING id, queue_job_id`,
        [jobId],
      )) as [Array<{ id: string; queue_job_id: string | null }>, number];
      const [updated] = rows[0];
      if (!updated) {
        const current = await tx.findOneBy(IntegrationJob, { id: jobId });
        if (!current) throw notFound('IntegrationJob');
        throw conflict(`only PENDING or RETRYING jobs can be cancelled; this one is ${current.status}`);
      }
      if (updated.queue_job_id) await this.boss.cancel(OUTBOUND_QUEUE, updated.queue_job_id, { db: queueDb(tx) });
      const cancelled = (await tx.findOneBy(IntegrationJob, { id: jobId }))!;
      await this.changedIn(tx, [cancelled]);
      await recordAudit(tx, { action: 'cancelIntegrationJob', targetType: 'IntegrationJob', targetId: jobId, after: { status: cancelled.status } });
      return cancelled;
    });
    this.announce([job]);
    // The cancel is committed: a failure to wake the entity's next job only leaves that job to
    // look again by itself (within 10 s), so it does not fail the mutation.
    await this.wakeNext([job.id]).catch(() => 0);
    return job;
  }

  /** Re-enqueues every FAILED job of an integration (the dead-letter queue), oldest first. */
  async replayFailed(integrationId: string, limit = 1000): Promise<IntegrationJob[]> {
    const failed = await this.db.getRepository(IntegrationJob).find({
      where: { integrationId, status: JobStatus.FAILED },
      order: { id: 'ASC' },
      take: limit,
      select: { id: true },
    });
    const replayed: IntegrationJob[] = [];
    for (const { id } of failed) replayed.push(await this.retry(id, 'replayFailedIntegrationJobs'));
    return replayed;
  }

  /**
   * After resumeIntegration: jobs that were put off while paused are due now. One statement for
   * all of them: pg-boss updates a start time one job per call, which for thousands of waiting
   * jobs made the resume itself the bottleneck (docs/benchmarks.md). The entries keep their
   * queue state (a deferred entry stays in `retry`, holding its place in its entity's order).
   */
  async wakeDeferred(integrationId: string): Promise<number> {
    const table = await this.outboundTable();
    const woken = (await this.db.query(
      `UPDATE ${QUEUE_SCHEMA}.${table} AS q SET start_after = ${QUEUE_SCHEMA}.job_now()
         FROM integration_job j
        WHERE j.integration_id = $1 AND j.status IN ('PENDING', 'RETRYING') AND q.id = j.queue_job_id
          AND q.name = $2 AND q.state < 'active' AND q.start_after > ${QUEUE_SCHEMA}.job_now()
        RETURNING q.id`,
      [integrationId, OUTBOUND_QUEUE],
    )) as unknown[];
    return woken.length;
  }

  /**
   * After jobs finished (or, from a job that was waiting its turn, after it was put off): the
   * queue entry of the next unfinished job of each one's entity at its integration is due now,
   * if that job is PENDING and its entry is waiting. Runs after the commit that finished them:
   * a job that found them unfinished and was put off has either committed its put-off entry by
   * then (and is woken here), or reads their state after this commit (and wakes itself:
   * `onlyThemselves`, the head is woken only if it is one of `jobIds`).
   * (On its generic plan the lookup is by entity id only: see the note in outbound-worker.ts.)
   */
  async wakeNext(jobIds: string[], { onlyThemselves = false } = {}): Promise<number> {
    if (jobIds.length === 0) return 0;
    const table = await this.outboundTable();
    const woken = (await prepared(
      this.db,
      `switchboard_wake_next_heads_${table}`,
      // The heads first (a materialised CTE), then their entries by primary key (name, id) through
      // an id array: joined to the entry table directly, a generic plan made while the queue
      // looked empty drove from the table by its name alone and filtered every entry of the
      // queue (finished ones included, kept an hour) on each call (docs/adr/0011).
      `WITH head AS MATERIALIZED (
         SELECT DISTINCT ON (n.integration_id, n.entity_type, n.entity_id) n.id, f.id AS asked, n.status, n.queue_job_id
           FROM integration_job f
           JOIN integration_job n ON n.entity_id = f.entity_id AND n.integration_id IS NOT DISTINCT FROM f.integration_id
                                 AND n.entity_type IS NOT DISTINCT FROM f.entity_type
                                 AND n.status IN ('PENDING', 'RETRYING', 'PROCESSING') AND n.entity_id IS NOT NULL
          WHERE f.id = ANY($1::uuid[]) AND f.entity_id IS NOT NULL
          ORDER BY n.integration_id, n.entity_type, n.entity_id, n.seq
       )
       UPDATE ${QUEUE_SCHEMA}.${table} AS q SET start_after = ${QUEUE_SCHEMA}.job_now()
        WHERE q.name = $2 AND q.id = ANY (ARRAY(SELECT head.queue_job_id FROM head WHERE head.status = 'PENDING' AND (NOT $3::boolean OR head.id = head.asked)))
          AND q.state < 'active' AND q.start_after > ${QUEUE_SCHEMA}.job_now()
        RETURNING q.id`,
      [jobIds, OUTBOUND_QUEUE, onlyThemselves],
    )) as unknown[];
    return woken.length;
  }

  /**
   * Unfinished jobs (PENDING, RETRYING, PROCESSING) whose queue entry is gone get a new one, so
   * no job waits forever for a delivery that will not come. In normal running a job's row and
   * its entry change in one transaction, so this finds nothing; it repairs what happened outside
   * that: pg-boss deletes an entry still waiting once its retention (14 days past its start time)
   * has passed, which happens to the jobs of a gateway stopped for longer than that; an
   * interrupted upgrade; entries deleted by hand. A job keeps its place in its entity's order
   * (`seq`) and its attempts. Each job is locked, then checked again (a fresh snapshot under the
   * lock: an entry another transaction gave it meanwhile is seen), then given its entry, in a
   * transaction of its own; a job locked elsewhere is left for the next sweep. Returns the jobs
   * given an entry.
   */
  async requeueOrphans(limit = 1000): Promise<IntegrationJob[]> {
    const queues = [OUTBOUND_QUEUE, LEGACY_OUTBOUND_QUEUE];
    const noLiveEntry = `NOT EXISTS (SELECT 1 FROM ${QUEUE_SCHEMA}.job q WHERE q.name = ANY($1::text[]) AND q.id = j.queue_job_id AND q.state < 'completed')`;
    const candidates = (await this.db.query(
      `SELECT j.id FROM integration_job j WHERE j.status IN ('PENDING', 'RETRYING', 'PROCESSING') AND ${noLiveEntry} ORDER BY j.seq LIMIT $2`,
      [queues, limit],
    )) as Array<{ id: string }>;
    const requeued: IntegrationJob[] = [];
    for (const { id } of candidates) {
      const job = await this.db.transaction(async (tx) => {
        const [locked] = (await tx.query(`SELECT id FROM integration_job WHERE id = $1 AND status IN ('PENDING', 'RETRYING', 'PROCESSING') FOR UPDATE SKIP LOCKED`, [
          id,
        ])) as Array<{ id: string }>;
        if (!locked) return null;
        const [orphan] = (await tx.query(`SELECT j.id, j.integration_id FROM integration_job j WHERE j.id = $2 AND ${noLiveEntry}`, [queues, id])) as Array<{
          id: string;
          integration_id: string;
        }>;
        if (!orphan) return null;
        const queueJobId = newId();
        await this.send(tx, [{ queueJobId, jobId: orphan.id, integrationId: orphan.integration_id }]);
        await tx.query(`UPDATE integration_job SET queue_job_id = $2, next_attempt_at = NULL, updated_at = now() WHERE id = $1`, [orphan.id, queueJobId]);
        const changed = (await tx.findOneBy(IntegrationJob, { id: orphan.id }))!;
        await this.changedIn(tx, [changed]);
        return changed;
      });
      if (job) requeued.push(job);
    }
    this.announce(requeued);
    return requeued;
  }

  /**
   * Queue entries without an integration group (queued by a version before the fair fetch) put
   * into theirs, in one transaction (src/jobs/fair-fetch.ts groupUngrouped); how many changed.
   */
  async groupUngrouped(): Promise<number> {
    const pool = (this.db.driver as unknown as { master: Pool }).master;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const grouped = await groupUngrouped(client, this.boss);
      await client.query('COMMIT');
      return grouped;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private table: string | null = null;

  private async outboundTable(): Promise<string> {
    return (this.table ??= await outboundTable(this.boss));
  }

  async get(id: string): Promise<IntegrationJob> {
    const job = await this.db.getRepository(IntegrationJob).findOneBy({ id });
    if (!job) throw notFound('IntegrationJob');
    return job;
  }

  async findByIds(ids: readonly string[]): Promise<IntegrationJob[]> {
    return this.db.getRepository(IntegrationJob).findBy({ id: In([...ids]) });
  }

  async list(filter: JobFilter, page: PageArgs): Promise<Connection<IntegrationJob>> {
    const qb = this.db.getRepository(IntegrationJob).createQueryBuilder('j');
    if (filter.integrationId) qb.andWhere('j.integrationId = :integrationId', { integrationId: filter.integrationId });
    if (filter.status) qb.andWhere('j.status = :status', { status: filter.status });
    if (filter.entityId) qb.andWhere('j.entityId = :entityId', { entityId: filter.entityId });
    if (filter.correlationId) qb.andWhere('j.correlationId = :correlationId', { correlationId: filter.correlationId });
    if (filter.operation) qb.andWhere('j.operation = :operation', { operation: filter.operation });
    if (filter.createdAfter) qb.andWhere('j.createdAt >= :createdAfter', { createdAfter: filter.createdAfter });
    if (filter.createdBefore) qb.andWhere('j.createdAt < :createdBefore', { createdBefore: filter.createdBefore });
    return paginate(qb, page);
  }

  async findLog(id: string): Promise<IntegrationLog | null> {
    return this.db.getRepository(IntegrationLog).findOneBy({ id });
  }

  /** Each job's latest JOB_LOGS_SHOWN log rows, oldest first. */
  async logsFor(jobIds: readonly string[]): Promise<IntegrationLog[]> {
    return this.db
      .getRepository(IntegrationLog)
      .createQueryBuilder('l')
      .where(
        `l.id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY id DESC) AS n FROM integration_log WHERE job_id = ANY(:ids)) latest WHERE n <= :shown)`,
        { ids: [...jobIds], shown: JOB_LOGS_SHOWN },
      )
      .orderBy('l.id', 'ASC')
      .getMany();
  }

  async listLogs(filter: LogFilter, page: PageArgs): Promise<Connection<IntegrationLog>> {
    const qb = this.db.getRepository(IntegrationLog).createQueryBuilder('l');
    if (filter.integrationId) qb.andWhere('l.integrationId = :integrationId', { integrationId: filter.integrationId });
    if (filter.jobId) qb.andWhere('l.jobId = :jobId', { jobId: filter.jobId });
    if (filter.webhookEventId) qb.andWhere('l.webhookEventId = :webhookEventId', { webhookEventId: filter.webhookEventId });
    if (filter.correlationId) qb.andWhere('l.correlationId = :correlationId', { correlationId: filter.correlationId });
    if (filter.status) qb.andWhere('l.status = :status', { status: filter.status });
    if (filter.direction) qb.andWhere('l.direction = :direction', { direction: filter.direction });
    if (filter.since) qb.andWhere('l.timestamp >= :since', { since: filter.since });
    if (filter.until) qb.andWhere('l.timestamp < :until', { until: filter.until });
    return paginate(qb, page);
  }
}
