import type { EntityManager } from 'typeorm';
import { Customer } from '../domain/customer/customer.entity.js';
import { ExternalRef } from '../domain/external-ref/external-ref.entity.js';
import { LogStatus } from '../domain/job/integration-log.entity.js';
import { ChangeSource } from '../domain/shared/field-origins.js';
import { isUuid, newId } from '../domain/shared/ids.js';
import { insertLogsSql, logRecord } from '../jobs/log-row.js';
import { maskPersonal } from '../observability/masking.js';
import { canonicalValues, hashesOf } from '../domain/shared/synced-values.js';
import { CUSTOMER_FIELDS, nonEmpty, normaliseEmail, ReconcileContext, type CustomerFacts, type FieldDecision } from '../webhooks/reconcile.js';
import { emptyPublished, type PageApply, type PageResult } from './poller.js';

/** A customer as one provider holds it, read by a sync run. */
export interface CustomerSnapshot {
  externalId: string;
  /** Provider time of this state (ms). */
  at: number;
  facts: CustomerFacts;
  /** The gateway id the provider echoes back (metadata the outbound connector set), if any. */
  gatewayId: string | null;
  /** Kept on the link (the provider's own values), merged into what is there. */
  remoteData?: Record<string, unknown> | null;
  /** More per-field clocks to raise to `at` on the link (HubSpot's per-property clocks). */
  extraClocks?: string[];
  /**
   * The facts the snapshot asserts about a record already linked (an update event names what
   * changed); all of them when absent. A new record is made from all of them.
   */
  asserted?: ReadonlyArray<keyof CustomerFacts>;
}

const CUSTOMER_COLUMNS = ['id', 'name', 'email', 'phone', 'tax_id', 'currency', 'version', 'field_origins'] as const;

function customerRow(c: Customer): Record<string, unknown> {
  return { id: c.id, name: c.name, email: c.email, phone: c.phone, tax_id: c.taxId, currency: c.currency, version: c.version, field_origins: c.fieldOrigins };
}

function refRow(r: ExternalRef): Record<string, unknown> {
  return {
    id: r.id,
    entity_type: r.entityType,
    entity_id: r.entityId,
    integration_id: r.integrationId,
    provider: r.provider,
    external_id: r.externalId,
    remote_data: r.remoteData,
    last_synced_at: r.lastSyncedAt,
    field_clock: r.fieldClock,
    deleted_at: r.deletedAt,
    last_seen_run: r.lastSeenRun ?? null,
    synced_hashes: r.syncedHashes ?? {},
  };
}

/**
 * A page of customer snapshots, in bulk: the same rules as a webhook (`resolveCustomer` then
 * `updateCustomer`: the link first, then the gateway id the provider echoes, then the email
 * where the integration allows it, else a new customer; per field, ownership and the link's field
 * clock decide), read and written a page at a time instead of a record at a time. Locks: every
 * record's provider object lock (the one webhooks take), in key order, then the rows.
 */
export async function applyCustomerSnapshots(page: PageApply, snapshots: CustomerSnapshot[]): Promise<PageResult> {
  const runId = page.seenBy;
  const { tx, integration } = page;
  const result: PageResult = { changed: 0, published: emptyPublished(), decisions: new Map(), notes: [], seenMarked: true };
  if (snapshots.length === 0) return result;
  // One snapshot per record (a page should hold each once; the last one wins).
  const byExternal = new Map(snapshots.map((s) => [s.externalId, s]));
  const records = [...byExternal.values()];
  const keys = records.map((r) => `${integration.id}:Customer:${r.externalId}`).sort();
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n`, [keys]);
  const refs = new Map<string, ExternalRef>();
  for (const ref of await tx
    .createQueryBuilder(ExternalRef, 'r')
    .setLock('pessimistic_write')
    .where('r.integrationId = :i AND r.entityType = :t AND r.externalId IN (:...ids)', { i: integration.id, t: 'Customer', ids: records.map((r) => r.externalId) })
    .getMany()) {
    refs.set(ref.externalId, ref);
  }
  const wanted = new Set<string>([...refs.values()].map((r) => r.entityId));
  for (const r of records) if (!refs.has(r.externalId) && r.gatewayId && isUuid(r.gatewayId)) wanted.add(r.gatewayId.toLowerCase());
  const customers = new Map<string, Customer>();
  if (wanted.size) {
    for (const c of await tx.createQueryBuilder(Customer, 'c').setLock('pessimistic_write').where('c.id IN (:...ids)', { ids: [...wanted].sort() }).orderBy('c.id').getMany()) customers.set(c.id, c);
  }
  const byEmail = integration.settings.matchCustomersByEmail === true;
  // Emails of records that may make or match a customer, and the customers holding them now.
  const emails = [...new Set(records.map((r) => normaliseEmail(r.facts.email)).filter((e): e is string => e !== null))].sort();
  const holders = new Map<string, Customer>();
  if (emails.length) {
    if (byEmail) await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('customer-email:' || e, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS u(e, n) ORDER BY n`, [emails]);
    const qb = tx.createQueryBuilder(Customer, 'c').where('lower(c.email) IN (:...emails)', { emails });
    if (byEmail) qb.setLock('pessimistic_write');
    for (const c of await qb.getMany()) holders.set(c.email!.toLowerCase(), customers.get(c.id) ?? c);
  }
  for (const c of holders.values()) if (!customers.has(c.id)) customers.set(c.id, c);

  const fresh: Customer[] = [];
  const touched = new Set<Customer>();
  const corrections = new Set<string>();
  const refsOut: ExternalRef[] = [];
  const logs: ReconcileContext['published']['logs'] = [];
  for (const r of records) {
    const ctx = new ReconcileContext(tx, integration, { source: ChangeSource.POLL, webhookEventId: null, occurredAt: new Date(r.at), correlationId: page.correlationId }, page.ownership);
    let ref = refs.get(r.externalId) ?? null;
    let customer = ref ? (customers.get(ref.entityId) ?? null) : null;
    let created = false;
    const email = normaliseEmail(r.facts.email);
    if (!customer) {
      const byGateway = r.gatewayId && isUuid(r.gatewayId) ? customers.get(r.gatewayId.toLowerCase()) : undefined;
      const byAddress = email && byEmail ? holders.get(email) : undefined;
      if (byGateway) {
        customer = byGateway;
      } else if (byAddress) {
        customer = byAddress;
        ctx.addLog({ eventType: 'identity.matched_by_email', status: LogStatus.SUCCESS, response: { customerId: customer.id, externalId: r.externalId, email: maskPersonal(email) } });
      } else {
        const taken = email !== null && holders.has(email);
        if (taken) {
          ctx.addLog({
            eventType: 'identity.email_not_matched',
            status: LogStatus.SUCCESS,
            response: { externalId: r.externalId, email: maskPersonal(email), reason: 'another customer has this email; matchCustomersByEmail is off for this integration' },
          });
        }
        customer = Object.assign(new Customer(), {
          id: newId(),
          name: (nonEmpty(r.facts.name) ?? (taken ? null : email) ?? r.externalId).slice(0, 500),
          email: taken ? null : email,
          phone: nonEmpty(r.facts.phone),
          taxId: null,
          currency: r.facts.currency ? r.facts.currency.toUpperCase().slice(0, 3) : null,
          version: 1,
          fieldOrigins: {},
        });
        ctx.markOrigins(customer, ['customer.name', ...(customer.email ? ['customer.email'] : []), ...(customer.phone ? ['customer.phone'] : []), ...(customer.currency ? ['customer.currency'] : [])]);
        if (customer.email) holders.set(customer.email, customer);
        customers.set(customer.id, customer);
        fresh.push(customer);
        created = true;
      }
    }
    if (!ref) {
      ref = Object.assign(new ExternalRef(), {
        id: newId(),
        integrationId: integration.id,
        provider: integration.provider,
        entityType: 'Customer' as const,
        externalId: r.externalId,
        fieldClock: {},
        deletedAt: null,
        remoteData: null,
        syncedHashes: {},
      });
      refs.set(r.externalId, ref);
    }
    ref.entityId = customer.id;
    ref.lastSyncedAt = new Date();
    // The provider has the record: a link ended by an earlier deletion lives again.
    ref.deletedAt = null;
    if (runId) ref.lastSeenRun = runId;
    if (r.remoteData) ref.remoteData = { ...(ref.remoteData ?? {}), ...r.remoteData };
    for (const key of r.extraClocks ?? []) ref.fieldClock[key] = Math.max(ref.fieldClock[key] ?? 0, r.at);
    refsOut.push(ref);
    if (created) {
      for (const f of Object.keys(CUSTOMER_FIELDS)) ref.fieldClock[f] = r.at;
      // The provider holds what the customer was made from.
      ref.syncedHashes = { ...(ref.syncedHashes ?? {}), ...hashesOf(canonicalValues('Customer', customer), ['name', 'email', 'phone', 'currency']) };
      result.changed++;
    } else {
      const linkedNow = !refs.get(r.externalId)?.createdAt;
      const changes = ctx.applyOwned('Customer', currentOf(customer), incomingOf(r.asserted ? (Object.fromEntries(r.asserted.map((k) => [k, r.facts[k]])) as CustomerFacts) : r.facts), ref.fieldClock, null, ref, customer.fieldOrigins);
      for (const c of ctx.corrections.values()) corrections.add(c.entityId);
      const address = changes['customer.email'];
      if (typeof address === 'string') {
        const holder = holders.get(address);
        if (holder && holder.id !== customer.id) {
          delete changes['customer.email'];
          ctx.addLog({
            eventType: 'conflict.customer.email',
            status: LogStatus.FAILED,
            errorMsg: 'customer.email was not changed: another customer has this email',
            response: { entity: 'Customer', field: 'customer.email', incoming: maskPersonal(address), kept: maskPersonal(customer.email) },
          });
        }
      }
      if (Object.keys(changes).length > 0) {
        if (customer.email && changes['customer.email'] !== undefined) holders.delete(customer.email.toLowerCase());
        for (const [field, value] of Object.entries(changes)) (customer as unknown as Record<string, unknown>)[CUSTOMER_FIELDS[field]] = value;
        if (customer.email) holders.set(customer.email.toLowerCase(), customer);
        ctx.markOrigins(customer, Object.keys(changes));
        if (!fresh.includes(customer)) touched.add(customer);
      }
      if (Object.keys(changes).length > 0 || linkedNow) result.changed++;
    }
    logs.push(...ctx.published.logs);
    result.notes.push(...ctx.notes);
    result.decisions.set(r.externalId, ctx.decisions as FieldDecision[]);
  }
  for (const c of touched) c.version += 1;
  await write(tx, fresh, [...touched], refsOut, logs);
  result.published.customers.push(...fresh, ...touched);
  result.published.logs.push(...logs);
  // The page's changes fan out to the other integrations; a provider whose change lost to an
  // owner gets the owner's value back.
  if (page.jobs) {
    const cause = { source: ChangeSource.POLL, integrationId: integration.id };
    result.published.jobs.push(...(await page.jobs.autoSyncMany(tx, 'Customer', [...fresh, ...touched], page.correlationId, cause)));
    const lost = [...customers.values()].filter((c) => corrections.has(c.id));
    if (lost.length) result.published.jobs.push(...(await page.jobs.autoSyncMany(tx, 'Customer', lost, page.correlationId, cause, integration.id)));
  }
  return result;
}

function currentOf(c: Customer): Record<string, unknown> {
  return { 'customer.name': c.name, 'customer.email': c.email?.toLowerCase() ?? null, 'customer.phone': c.phone, 'customer.currency': c.currency };
}

/** What a snapshot asserts, as updateCustomer reads facts. */
function incomingOf(facts: CustomerFacts): Record<string, unknown> {
  const incoming: Record<string, unknown> = {};
  if (facts.name !== undefined && nonEmpty(facts.name)) incoming['customer.name'] = nonEmpty(facts.name);
  if (facts.email !== undefined && normaliseEmail(facts.email)) incoming['customer.email'] = normaliseEmail(facts.email);
  if (facts.phone !== undefined) incoming['customer.phone'] = nonEmpty(facts.phone);
  if (facts.currency) incoming['customer.currency'] = facts.currency.toUpperCase();
  return incoming;
}

async function write(tx: EntityManager, fresh: Customer[], touched: Customer[], refs: ExternalRef[], logs: ReconcileContext['published']['logs']): Promise<void> {
  if (fresh.length) {
    await tx.query(
      `INSERT INTO customer (${CUSTOMER_COLUMNS.join(', ')}) SELECT ${CUSTOMER_COLUMNS.join(', ')} FROM jsonb_populate_recordset(NULL::customer, $1::jsonb)`,
      [JSON.stringify(fresh.map(customerRow))],
    );
  }
  if (touched.length) {
    await tx.query(
      `UPDATE customer c SET name = x.name, email = x.email, phone = x.phone, currency = x.currency, version = x.version, field_origins = x.field_origins, updated_at = now()
         FROM jsonb_populate_recordset(NULL::customer, $1::jsonb) x WHERE c.id = x.id`,
      [JSON.stringify(touched.map(customerRow))],
    );
  }
  if (refs.length) {
    await tx.query(
      `INSERT INTO external_ref (id, entity_type, entity_id, integration_id, provider, external_id, remote_data, last_synced_at, field_clock, deleted_at, last_seen_run, synced_hashes)
       SELECT id, entity_type, entity_id, integration_id, provider, external_id, remote_data, last_synced_at, field_clock, deleted_at, last_seen_run, synced_hashes
         FROM jsonb_populate_recordset(NULL::external_ref, $1::jsonb)
       ON CONFLICT (integration_id, entity_type, external_id) DO UPDATE
         SET entity_id = excluded.entity_id, remote_data = excluded.remote_data, last_synced_at = excluded.last_synced_at,
             field_clock = excluded.field_clock, deleted_at = excluded.deleted_at, last_seen_run = COALESCE(excluded.last_seen_run, external_ref.last_seen_run),
             synced_hashes = external_ref.synced_hashes || excluded.synced_hashes`,
      [JSON.stringify(refs.map(refRow))],
    );
  }
  if (logs.length) await tx.query(insertLogsSql('$1'), [JSON.stringify(logs.map(logRecord))]);
}
