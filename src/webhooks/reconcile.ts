import type { EntityManager } from 'typeorm';
import { Contract } from '../domain/contract/contract.entity.js';
import { Customer } from '../domain/customer/customer.entity.js';
import { ExternalRef, type CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import type { Integration } from '../domain/integration/integration.entity.js';
import { Invoice } from '../domain/invoice/invoice.entity.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import type { IntegrationJob } from '../domain/job/integration-job.entity.js';
import { isUuid, newId } from '../domain/shared/ids.js';
import { insertLogSql, logParams, logService } from '../jobs/log-row.js';
import type { WebhookEvent } from '../domain/webhook/webhook-event.entity.js';
import type { OwnedField, Ownership } from './ownership.js';
import { maskPersonal } from '../observability/masking.js';
import { ChangeSource, markOrigins, type FieldOrigins } from '../domain/shared/field-origins.js';
import { canonicalValues, hashesOf, linkField, valueHash, type SyncedHashes } from '../domain/shared/synced-values.js';
import type { JobService } from '../jobs/job.service.js';
import { syncSuppressed } from '../observability/metrics.js';
import { In } from 'typeorm';

/** How far back the gateway's writes to a link count when a provider reports values back. */
const ECHO_WINDOW_MINUTES = 30;
/** Tolerance between a provider's clock (event times) and ours (when a job completed). */
const CLOCK_SKEW_MS = 2_000;
/**
 * How coarse a provider's change times are: Stripe's events carry whole seconds, so a Stripe
 * change and an API change less than a second apart are not ordered by time. The others' are
 * milliseconds.
 */
const CLOCK_RESOLUTION_MS: Partial<Record<string, number>> = { STRIPE: 1_000 };

const uniqueById = <T extends { id: string }>(records: T[]): T[] => [...new Map(records.map((r) => [r.id, r])).values()];

/** What one event changed, published on the internal topics once its transaction commits. */
export interface Published {
  customers: Customer[];
  invoices: Invoice[];
  contracts: Contract[];
  jobs: IntegrationJob[];
  logs: IntegrationLog[];
}

/**
 * What is being applied: a webhook event, or a record read from the provider (a sync run's page,
 * a rehydrate). The same identity, ownership and order rules apply to both.
 */
export interface ChangeOrigin {
  source: ChangeSource.WEBHOOK | ChangeSource.POLL;
  /** The stored webhook event (null for a record read from the provider). */
  webhookEventId: string | null;
  /** The provider's time of the change (or of the read), which orders it against other changes. */
  occurredAt: Date;
  correlationId: string;
}

/** A webhook event as a change's origin: its provider time, else the time it was received. */
export function webhookOrigin(event: WebhookEvent): ChangeOrigin {
  return { source: ChangeSource.WEBHOOK, webhookEventId: event.id, occurredAt: event.occurredAt ?? event.receivedAt, correlationId: event.correlationId };
}

/** What applyOwned decided for one field (rehydrate shows these). */
export interface FieldDecision {
  field: string;
  current: unknown;
  incoming: unknown;
  applies: boolean;
  reason: string | null;
}

/** Everything a handler needs to apply one event (or polled record) inside its transaction. */
export class ReconcileContext {
  readonly published: Published = { customers: [], invoices: [], contracts: [], jobs: [], logs: [] };
  readonly notes: string[] = [];
  /** Every field applyOwned weighed, with its verdict. */
  readonly decisions: FieldDecision[] = [];
  /** Records whose change from this provider lost to another owner: the provider gets the owner's value back. */
  readonly corrections = new Map<string, { entityType: 'Customer' | 'Contract'; entityId: string; verifyFirst?: boolean }>();
  /** Jobs the change fanned out to other integrations (announced after the commit). */
  readonly fanned: IntegrationJob[] = [];
  /**
   * The provider marks this change as the gateway's own write (HubSpot's `changeSource:
   * INTEGRATION` from our app): every value it asserts is an echo. A signal on top of the hashes,
   * which catch echoes whether or not a provider marks them.
   */
  reportsOwnWrite = false;
  /**
   * The provider marks this change as made by someone else (HubSpot's `sourceId` of a user or
   * another app): no value it asserts is an echo, even one the gateway wrote there lately (a
   * person setting a deal stage back to a stage the gateway wrote a second before).
   */
  reportsForeignWrite = false;
  /** Fields applyOwned recognised as echoes (the gateway's own writes reported back). */
  readonly echoedFields = new Set<string>();
  /** Per link: the values the gateway sent there lately (jobs in flight or done), and when the last write was. */
  private readonly sent = new Map<string, { hashes: Map<string, Set<string>>; lastWriteAt: number; writeAhead: boolean }>();

  constructor(
    readonly tx: EntityManager,
    readonly integration: Integration,
    readonly origin: ChangeOrigin,
    readonly ownership: Ownership,
  ) {}

  /** The provider's time of the change in ms. */
  get occurredAtMs(): number {
    return this.origin.occurredAt.getTime();
  }

  /** Records where the changed fields' values came from (owned names such as `customer.name`). */
  markOrigins(record: { fieldOrigins: FieldOrigins }, ownedFields: Iterable<string>): void {
    const fields = [...ownedFields].map((f) => f.slice(f.indexOf('.') + 1));
    if (fields.length) markOrigins(record, fields, { source: this.origin.source, integrationId: this.integration.id, at: this.origin.occurredAt });
  }

  /** Serialises every event about one provider object (any process): identity and order checks see each other. */
  async lockObject(kind: string, externalId: string): Promise<void> {
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${this.integration.id}:${kind}:${externalId}`]);
  }

  async findRef(entityType: CanonicalEntityType, externalId: string): Promise<ExternalRef | null> {
    return this.tx.findOne(ExternalRef, { where: { integrationId: this.integration.id, entityType, externalId }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * What the gateway sent to this link lately (jobs in flight or done), for applyOwned's echo and
   * order checks: a provider reports its writes back late and out of order (Salesforce retries
   * Outbound Messages for 24 h), after the link learned newer ones. Call it with the canonical
   * record locked: a change that committed a job there before the lock was granted is seen.
   * (Found by the soak: read before the lock, an API write's job committed meanwhile was missed,
   * and a person's edit it overwrote at the provider was not written back.)
   */
  async recentWrites(link: ExternalRef): Promise<void> {
    if (link.entityType !== 'Customer' && link.entityType !== 'Contract') return;
    const jobs = (await this.tx.query(
      `SELECT synced_hashes, status, updated_at FROM integration_job
        WHERE integration_id = $1 AND entity_type = $2 AND entity_id = $3 AND synced_hashes IS NOT NULL
          AND status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'RETRYING') AND created_at > now() - interval '${ECHO_WINDOW_MINUTES} minutes'
        ORDER BY created_at DESC LIMIT 20`,
      [this.integration.id, link.entityType, link.entityId],
    )) as Array<{ synced_hashes: SyncedHashes; status: string; updated_at: Date }>;
    if (jobs.length === 0) {
      this.sent.set(link.id, { hashes: new Map(), lastWriteAt: -Infinity, writeAhead: false });
      return;
    }
    const hashes = new Map<string, Set<string>>();
    for (const job of jobs) for (const [field, hash] of Object.entries(job.synced_hashes)) (hashes.get(field) ?? hashes.set(field, new Set()).get(field)!).add(hash);
    const lastWriteAt = jobs.some((j) => j.status !== 'COMPLETED') ? Date.now() : Math.max(...jobs.map((j) => new Date(j.updated_at).getTime()));
    // The newest job there has not written yet (a PROCESSING one may have): it carries the
    // model's newest values and lands after this event's change.
    const writeAhead = jobs[0].status === 'PENDING' || jobs[0].status === 'RETRYING';
    this.sent.set(link.id, { hashes, lastWriteAt, writeAhead });
  }

  /**
   * The change's fan-out, in its transaction: jobs for every other integration auto-syncing the
   * records it changed, and for this one where its change lost to another owner (the owner's
   * value goes back, once). Announce `fanned` after the commit.
   */
  async fanOut(jobs: JobService): Promise<void> {
    const cause = { source: this.origin.source, integrationId: this.integration.id };
    const changed = { Customer: uniqueById(this.published.customers), Contract: uniqueById(this.published.contracts) };
    for (const entityType of ['Customer', 'Contract'] as const) {
      this.fanned.push(...(await jobs.autoSyncMany(this.tx, entityType, changed[entityType], this.origin.correlationId, cause)));
      for (const verifyFirst of [false, true]) {
        const lost = [...this.corrections.values()].filter((c) => c.entityType === entityType && !!c.verifyFirst === verifyFirst).map((c) => c.entityId);
        if (lost.length === 0) continue;
        const records = entityType === 'Customer' ? await this.tx.findBy(Customer, { id: In(lost) }) : await this.tx.findBy(Contract, { id: In(lost) });
        this.fanned.push(...(await jobs.autoSyncMany(this.tx, entityType, records, this.origin.correlationId, cause, this.integration.id, verifyFirst ? { verifyFirst: true } : undefined)));
      }
    }
  }

  async link(entityType: CanonicalEntityType, entityId: string, externalId: string, remoteData: Record<string, unknown> | null): Promise<ExternalRef> {
    const existing = await this.tx.findOneBy(ExternalRef, { integrationId: this.integration.id, entityType, externalId });
    const ref =
      existing ??
      this.tx.create(ExternalRef, {
        id: newId(),
        integrationId: this.integration.id,
        provider: this.integration.provider,
        entityType,
        externalId,
        fieldClock: {},
        deletedAt: null,
      });
    ref.entityId = entityId;
    if (remoteData) ref.remoteData = { ...(ref.remoteData ?? {}), ...remoteData };
    ref.lastSyncedAt = new Date();
    return this.tx.save(ref);
  }

  async markDeleted(entityType: CanonicalEntityType, externalId: string): Promise<boolean> {
    const ref = await this.findRef(entityType, externalId);
    if (!ref) return false;
    ref.deletedAt = new Date(this.occurredAtMs);
    ref.lastSyncedAt = new Date();
    await this.tx.save(ref);
    this.notes.push(`${entityType} ${ref.entityId} unlinked: deleted at the provider (the canonical record stays)`);
    return true;
  }

  /** An INBOUND log row in this transaction, published after commit. */
  addLog(fields: { eventType: string; status: LogStatus; errorMsg?: string | null; jobId?: string | null; response?: unknown }): void {
    const log = this.tx.create(IntegrationLog, {
      id: newId(),
      service: logService(this.integration.provider),
      eventType: fields.eventType,
      direction: Direction.INBOUND,
      status: fields.status,
      timestamp: new Date(),
      errorMsg: fields.errorMsg ?? null,
      correlationId: this.origin.correlationId,
      integrationId: this.integration.id,
      jobId: fields.jobId ?? null,
      webhookEventId: this.origin.webhookEventId,
      httpStatus: null,
      durationMs: null,
      attempt: null,
      request: null,
      response: fields.response ?? null,
    });
    this.published.logs.push(log);
  }

  async flushLogs(): Promise<void> {
    for (const log of this.published.logs) await this.tx.query(insertLogSql(1), logParams(log));
  }

  /** The link no longer claims to know what the provider holds for this field. */
  private forget(link: ExternalRef, field: string): void {
    const { [linkField(field)]: _unknown, ...rest } = link.syncedHashes ?? {};
    link.syncedHashes = rest;
  }

  /**
   * The provider gets the model's value back after the commit (fanOut). A definite correction
   * (the provider holds another value) outweighs a read-first one for the same record.
   */
  private correct(link: ExternalRef, verifyFirst: boolean): void {
    if (link.entityType !== 'Customer' && link.entityType !== 'Contract') return;
    const key = `${link.entityType}:${link.entityId}`;
    const prev = this.corrections.get(key);
    this.corrections.set(key, { entityType: link.entityType, entityId: link.entityId, verifyFirst: prev ? !!prev.verifyFirst && verifyFirst : verifyFirst });
  }

  /**
   * Applies the fields an event asserts, under the ownership map and the order rule:
   * - a field its sender does not own is not applied; a differing value is logged as a conflict
   *   with both values;
   * - a field changed by a newer event (per-field provider time on the link) is not overwritten.
   * - with the `link` of an auto-synced record: a value the provider is known to hold (the
   *   gateway wrote it there, or read it from there before) is an echo, not a change: it is not
   *   applied, whatever the model holds now. The link learns each value asserted.
   * Returns the fields to write. `clock` is the link's field clock (null: order checked elsewhere).
   */
  applyOwned<F extends OwnedField>(
    entity: string,
    current: Partial<Record<F, unknown>>,
    incoming: Partial<Record<F, unknown>>,
    clock: Record<string, number> | null,
    tieBreak?: ((field: F) => boolean) | null,
    link?: ExternalRef | null,
    origins?: FieldOrigins | null,
  ): Partial<Record<F, unknown>> {
    const out: Partial<Record<F, unknown>> = {};
    const sender = this.integration.provider;
    const at = this.occurredAtMs;
    let asserted = 0;
    let echoed = 0;
    for (const field of Object.keys(incoming) as F[]) {
      const value = incoming[field];
      if (value === undefined) continue;
      const same = normalise(value) === normalise(current[field]);
      const owner = this.ownership[field];
      const decide = (applies: boolean, reason: string | null) =>
        this.decisions.push({ field, current: current[field] ?? null, incoming: value ?? null, applies, reason });
      if (link) {
        asserted++;
        const key = linkField(field);
        const hash = valueHash(key, value);
        // Known: the value the provider holds as far as the link knows, or one the gateway wrote
        // there lately, reported as of no later than its last write there (give or take the
        // clocks' skew): a person setting an old value again after that is a change.
        const sent = this.sent.get(link.id);
        const known =
          this.reportsOwnWrite ||
          (!this.reportsForeignWrite && (link.syncedHashes?.[key] === hash || (!!sent?.hashes.get(key)?.has(hash) && at <= sent.lastWriteAt + CLOCK_SKEW_MS)));
        // The link learns what the provider holds, unless the gateway wrote there since (or is
        // writing): a late event's value was overwritten, and learning it would make the next
        // change to that value look like a no-op there (found by the soak: a status never sent).
        if (!sent || at >= sent.lastWriteAt) link.syncedHashes = { ...(link.syncedHashes ?? {}), [key]: hash };
        if (known) {
          echoed++;
          this.echoedFields.add(field);
          // The field clock does not move: an echo is the gateway's own write coming back, not a
          // change at the provider, and a person's edit made before it (reported later, out of
          // order) must still apply; the model's newer values are guarded by their origins below.
          decide(false, same ? 'equal' : 'echo: the provider reports a value the gateway wrote (or read) there before');
          // An echo of a value the model has moved on from, with no write of the newer value on
          // its way there: either a late echo (a later write already carried the newer value) or
          // a person setting a value the gateway wrote there lately, which hashes cannot tell
          // apart. A repair that reads first settles it: it writes the model's value only where
          // the provider does not hold it. (Found by the soak: a deal stage left at a value the
          // gateway had written a second before.) HubSpot's own-write mark rules out the second.
          // Only where the recent writes were read (webhooks; a sync run's page applies many
          // records at once and corrects only lost conflicts).
          if (!same && !this.reportsOwnWrite && sent && !sent.writeAhead) {
            // Not learned (the gateway wrote there since): the link holds that write's hashes,
            // which may not be what the provider holds now.
            if (sent && at < sent.lastWriteAt) this.forget(link, field);
            this.correct(link, true);
          }
          continue;
        }
      }
      if (owner !== sender) {
        decide(false, same ? 'equal' : `owned by ${owner}`);
        if (!same && link) {
          // The gateway wrote there after this change happened (or is writing): the link did not
          // learn the value, so it still holds the hashes of that write, and a correction would
          // be taken for a no-op. Forget the field and read first: whether the write landed
          // before the change or after is not known here. (Found by the soak: a Stripe name edit
          // in the same whole second as the gateway's write there was never corrected.)
          const sent = this.sent.get(link.id);
          const unordered = !!sent && at < sent.lastWriteAt;
          if (unordered) this.forget(link, field);
          this.correct(link, unordered);
        }
        if (!same) {
          this.addLog({
            eventType: `conflict.${field}`,
            status: LogStatus.FAILED,
            errorMsg: `${field} is owned by ${owner}: the change from ${sender} was not applied`,
            response: { entity, field, owner, sender, incoming: shown(field, value), kept: shown(field, current[field]) },
          });
          this.notes.push(`conflict on ${field} (owned by ${owner})`);
        }
        continue;
      }
      // The model's value came from elsewhere (the API, an import, another integration) later
      // than this change happened (beyond the provider clock's resolution): this change is older and does not overwrite it. The write of that
      // newer value there came after this change, so the provider holds it too. (Found by the
      // soak: a webhook delayed past an API update of the same field undid the update.)
      const origin = origins?.[field.slice(field.indexOf('.') + 1)];
      if (clock && origin && origin.integrationId !== this.integration.id && Date.parse(origin.at) > at + (CLOCK_RESOLUTION_MS[sender] ?? 0)) {
        decide(false, same ? 'equal' : `a newer change (${origin.at}, ${origin.source}) was already applied`);
        if (!same) this.notes.push(`${field} not changed: a newer ${origin.source} change already set it`);
        continue;
      }
      if (clock) {
        const last = clock[field] ?? -Infinity;
        if (last > at || (last === at && tieBreak && !tieBreak(field))) {
          decide(false, same ? 'equal' : `a newer change (${new Date(last).toISOString()}) was already applied`);
          if (!same) this.notes.push(`${field} not changed: a newer event already set it`);
          continue;
        }
        clock[field] = at;
      }
      decide(!same, same ? 'equal' : null);
      if (!same) out[field] = value;
      // The gateway wrote (or is writing) this record there after the change happened: that write
      // carried the value from before and overwrote the change at the provider, which now holds a
      // stale value while the model takes the change. The fan-out skips the sender, so the sender
      // gets the model's value back (once), and the link forgets what it learned for the field so
      // that the write is not taken for a no-op. (Found by the soak: a lost update per few hundred
      // changes when a retried write landed after a person's edit.)
      if (!same && link) {
        const sent = this.sent.get(link.id);
        if (sent && sent.lastWriteAt > at) {
          this.forget(link, field);
          // Whether that write landed before or after the change is not known here (it landed
          // between its request and its completion, and Stripe's clock has whole seconds): the
          // repair reads the record first and writes only if it differs, so a provider that
          // holds its change still is not sent it back.
          this.correct(link, true);
        }
      }
    }
    if (asserted > 0 && echoed === asserted) syncSuppressed.inc({ integration: this.integration.id, kind: 'echo' });
    return out;
  }
}

/** Personal fields are logged masked (first character, length, fingerprint); the others as they are. */
const PERSONAL_FIELDS = new Set<string>(['customer.name', 'customer.email', 'customer.phone', 'customer.taxId']);
export function shown(field: string, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return PERSONAL_FIELDS.has(field) ? maskPersonal(value) : value;
}

export function normalise(v: unknown): string {
  if (v === null || v === undefined || v === '') return '';
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

export function normaliseEmail(v: unknown): string | null {
  return typeof v === 'string' && v.trim() ? v.trim().toLowerCase() : null;
}

export function nonEmpty(v: unknown): string | null {
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

export interface CustomerFacts {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  currency?: string | null;
}

export const CUSTOMER_FIELDS: Record<string, keyof Customer> = { 'customer.name': 'name', 'customer.email': 'email', 'customer.phone': 'phone', 'customer.currency': 'currency' };

/**
 * Identity: the provider record's ExternalRef first, then a gateway id the provider echoes back
 * (metadata we sent), then, only where the integration's `matchCustomersByEmail` setting allows
 * it, the normalised email (each such match is logged); else a new canonical customer. Returns
 * the customer (locked), its link, and whether it was created.
 */
export async function resolveCustomer(
  ctx: ReconcileContext,
  externalId: string,
  facts: CustomerFacts,
  gatewayId: string | null,
): Promise<{ customer: Customer; ref: ExternalRef; created: boolean }> {
  await ctx.lockObject('Customer', externalId);
  const ref = await ctx.findRef('Customer', externalId);
  if (ref) {
    const customer = await ctx.tx.findOne(Customer, { where: { id: ref.entityId }, lock: { mode: 'pessimistic_write' } });
    if (customer) return { customer, ref, created: false };
  }
  let customer: Customer | null = null;
  if (gatewayId && isUuid(gatewayId)) {
    customer = await ctx.tx.findOne(Customer, { where: { id: gatewayId }, lock: { mode: 'pessimistic_write' } });
  }
  const email = normaliseEmail(facts.email);
  const byEmail = ctx.integration.settings.matchCustomersByEmail === true;
  if (!customer && email && byEmail) {
    // Concurrent creations of the same person through two providers meet at the email lock.
    await ctx.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`customer-email:${email}`]);
    customer = await ctx.tx
      .createQueryBuilder(Customer, 'c')
      .setLock('pessimistic_write')
      .where('lower(c.email) = :email', { email })
      .getOne();
  }
  let created = false;
  if (!customer) {
    // Not matched by email: the address stays with the customer who has it (emails are unique).
    const taken = email !== null && !byEmail && (await emailHolder(ctx, email, null)) !== null;
    if (taken) {
      ctx.addLog({
        eventType: 'identity.email_not_matched',
        status: LogStatus.SUCCESS,
        response: { externalId, email: maskPersonal(email), reason: 'another customer has this email; matchCustomersByEmail is off for this integration' },
      });
      ctx.notes.push('email left unset: another customer has it and this integration does not match by email');
    }
    customer = ctx.tx.create(Customer, {
      id: newId(),
      name: (nonEmpty(facts.name) ?? (taken ? null : email) ?? externalId).slice(0, 500),
      email: taken ? null : email,
      phone: nonEmpty(facts.phone),
      taxId: null,
      currency: facts.currency ? facts.currency.toUpperCase().slice(0, 3) : null,
      version: 1,
      fieldOrigins: {},
    });
    ctx.markOrigins(customer, ['customer.name', ...(customer.email ? ['customer.email'] : []), ...(customer.phone ? ['customer.phone'] : []), ...(customer.currency ? ['customer.currency'] : [])]);
    customer = await ctx.tx.save(customer);
    created = true;
    ctx.published.customers.push(customer);
    ctx.notes.push(`customer ${customer.id} created`);
  } else if (gatewayId === customer.id) {
    ctx.notes.push(`customer ${customer.id} matched by gateway id`);
  } else {
    ctx.notes.push(`customer ${customer.id} matched by email`);
    ctx.addLog({
      eventType: 'identity.matched_by_email',
      status: LogStatus.SUCCESS,
      response: { customerId: customer.id, externalId, email: maskPersonal(email) },
    });
  }
  const linked = await ctx.link('Customer', customer.id, externalId, null);
  if (created) {
    // Every field came from this event: later events are ordered against it, and the provider
    // holds these values (a later event repeating them is no change).
    for (const f of Object.keys(CUSTOMER_FIELDS)) linked.fieldClock[f] = ctx.occurredAtMs;
    linked.syncedHashes = { ...(linked.syncedHashes ?? {}), ...hashesOf(canonicalValues('Customer', customer), ['name', 'email', 'phone', 'currency']) };
    await ctx.tx.save(linked);
  }
  return { customer, ref: linked, created };
}

/** The id of the customer holding this email (case-insensitive), other than `exceptId`. */
async function emailHolder(ctx: ReconcileContext, email: string, exceptId: string | null): Promise<string | null> {
  const [row] = (await ctx.tx.query(`SELECT id FROM customer WHERE lower(email) = $1 AND ($2::uuid IS NULL OR id <> $2) LIMIT 1`, [email.toLowerCase(), exceptId])) as Array<{ id: string }>;
  return row?.id ?? null;
}

/** Applies owned customer facts to a resolved customer (conflicts logged, order kept). */
export async function updateCustomer(
  ctx: ReconcileContext,
  customer: Customer,
  ref: ExternalRef,
  facts: CustomerFacts,
  ordered = true,
  tieBreak: ((field: OwnedField) => boolean) | null = null,
): Promise<void> {
  const current = { 'customer.name': customer.name, 'customer.email': customer.email?.toLowerCase() ?? null, 'customer.phone': customer.phone, 'customer.currency': customer.currency };
  const incoming: Record<string, unknown> = {};
  if (facts.name !== undefined && nonEmpty(facts.name)) incoming['customer.name'] = nonEmpty(facts.name);
  if (facts.email !== undefined && normaliseEmail(facts.email)) incoming['customer.email'] = normaliseEmail(facts.email);
  if (facts.phone !== undefined) incoming['customer.phone'] = nonEmpty(facts.phone);
  if (facts.currency) incoming['customer.currency'] = facts.currency.toUpperCase();
  await ctx.recentWrites(ref);
  const changes = ctx.applyOwned('Customer', current, incoming, ordered ? ref.fieldClock : null, tieBreak, ref, customer.fieldOrigins);
  const email = changes['customer.email'];
  if (typeof email === 'string' && (await emailHolder(ctx, email, customer.id)) !== null) {
    // Another customer has the address: it is not moved (nor merged) by an inbound event.
    delete changes['customer.email'];
    ctx.addLog({
      eventType: 'conflict.customer.email',
      status: LogStatus.FAILED,
      errorMsg: 'customer.email was not changed: another customer has this email',
      response: { entity: 'Customer', field: 'customer.email', incoming: maskPersonal(email), kept: maskPersonal(customer.email) },
    });
  }
  await ctx.tx.save(ref);
  if (Object.keys(changes).length === 0) return;
  for (const [field, value] of Object.entries(changes)) (customer as unknown as Record<string, unknown>)[CUSTOMER_FIELDS[field]] = value;
  ctx.markOrigins(customer, Object.keys(changes));
  customer.version += 1;
  const saved = await ctx.tx.save(customer);
  ctx.published.customers.push(saved);
  ctx.notes.push(`customer ${customer.id}: ${Object.keys(changes).join(', ')} changed`);
}
