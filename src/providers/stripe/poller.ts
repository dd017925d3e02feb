import { ProviderError, type CallContext } from '../connector.js';
import type { CanonicalEntityType } from '../../domain/external-ref/external-ref.entity.js';
import { applyCustomerSnapshots, type CustomerSnapshot } from '../../sync/apply-customers.js';
import { applyEach, mergeResults } from '../../sync/apply-each.js';
import type { Json, PageResult, Poller, PolledRecord, PollPage, RunPlan, SyncMode } from '../../sync/poller.js';
import { nonEmpty, type CustomerFacts } from '../../webhooks/reconcile.js';
import { stripeGet, type StripeObject } from './connector.js';
import { stripeHandler } from './inbound.js';

/** Stripe's page size limit for lists and events. */
const PAGE = 100;
/** Stripe keeps events for 30 days; a checkpoint older than this (with a day's margin) cannot continue from events. */
export const EVENTS_KEPT_MS = 29 * 24 * 3600 * 1000;

/** Each resource: the list it is read from in full, and the event types that change it. */
const RESOURCES = {
  customers: { list: '/v1/customers', entity: 'Customer', events: ['customer.created', 'customer.updated', 'customer.deleted'] },
  invoices: {
    list: '/v1/invoices',
    entity: 'Invoice',
    events: ['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_failed', 'invoice.voided', 'invoice.updated', 'invoice.marked_uncollectible', 'invoice.payment_succeeded', 'invoice.sent', 'invoice.deleted'],
  },
} as const;
type Resource = keyof typeof RESOURCES;

/**
 * Where an INCREMENTAL run of a resource starts: the newest event of its types already applied
 * (events newer than it are read oldest first with `ending_before`), and when that was.
 */
interface Checkpoint {
  /** The newest event applied, or null when Stripe had none at the time. */
  eventsAfter: string | null;
  /**
   * When Stripe was last read up to the present (seconds). Older than Stripe's 30 days of events,
   * the events between may be gone: the run is FULL. Without an event to continue from, events
   * from a minute before it are read.
   */
  readAt: number;
}

/** A FULL run's cursor: the list page to read next, and the checkpoint the run leaves when it ends. */
interface ListCursor {
  phase: 'list';
  startingAfter: string | null;
  leaves: Checkpoint;
}

/** An INCREMENTAL run's cursor (see Checkpoint). `startingAfter`: walking down from the newest event when there is none to continue from. */
interface EventsCursor {
  phase: 'events';
  eventsAfter: string | null;
  readAt: number;
  startingAfter?: string | null;
  /** The newest event of a walk down, and when the walk began (the checkpoint once it ends). */
  newest?: string | null;
  walkReadAt?: number;
}

/** A customer object (listed, or in a customer event) as the bulk path reads it. */
function customerSnapshot(record: PolledRecord): CustomerSnapshot {
  const event = record.payload as Json;
  const o = (event.data as { object: Json }).object;
  const previous = (event.data as { previous_attributes?: Json }).previous_attributes;
  // customer.updated names what changed: only those facts are asserted, as the webhook does.
  const asserted = event.type === 'customer.updated' && previous ? (Object.keys(previous).filter((k) => ['name', 'email', 'phone', 'currency'].includes(k)) as Array<keyof CustomerFacts>) : undefined;
  return {
    externalId: record.externalId,
    at: record.at,
    facts: { name: (o.name as string) ?? null, email: (o.email as string) ?? null, phone: (o.phone as string) ?? null, currency: nonEmpty(o.currency) },
    gatewayId: nonEmpty((o.metadata as Json | undefined)?.switchboard_id),
    remoteData: { livemode: Boolean(o.livemode) },
    asserted,
  };
}

function resourceOf(resource: string): (typeof RESOURCES)[Resource] {
  const r = RESOURCES[resource as Resource];
  if (!r) throw new ProviderError('client', `Stripe has no resource ${resource}; it has ${Object.keys(RESOURCES).join(', ')}`, false);
  return r;
}

interface StripeList {
  data: StripeObject[];
  has_more: boolean;
}

async function list(call: CallContext, path: string, query: Record<string, unknown>): Promise<StripeList> {
  const page = (await stripeGet(call, path, query)) as unknown as StripeList | null;
  if (!page) throw new ProviderError('client', `Stripe answered 404 to ${path}`, false, 404);
  if (!Array.isArray(page.data)) throw new ProviderError('server', `Stripe answered ${path} without a list`, true);
  return page;
}

/** The newest event of these types now (a FULL run continues from it once it has read everything). */
async function newestEvent(call: CallContext, types: readonly string[]): Promise<Checkpoint> {
  const readAt = Math.floor(Date.now() / 1000);
  const page = await list(call, '/v1/events', { limit: 1, types });
  return { eventsAfter: page.data[0]?.id ?? null, readAt };
}

async function fullPlan(call: CallContext, r: (typeof RESOURCES)[Resource], note: string | undefined): Promise<RunPlan> {
  return { mode: 'FULL', note, cursor: { phase: 'list', startingAfter: null, leaves: await newestEvent(call, r.events) } satisfies ListCursor as unknown as Json };
}

/**
 * The time a listed (or read) object's state is taken as of: just before the second it was read
 * in. Stripe's events carry whole seconds, so an event of that same second (which the read may
 * or may not show) still orders after it and applies; one from an earlier second does not.
 */
function snapshotTime(requestedMs: number): number {
  return Math.floor(requestedMs / 1000) * 1000 - 1;
}

/** A listed object as the event a webhook would carry for it: its state as of the page's request. */
function snapshotEvent(type: string, object: StripeObject, at: number): Json {
  return { id: null, object: 'event', type, created: Math.floor(at / 1000), data: { object } };
}

/**
 * Stripe: customers and invoices. FULL lists every object (`limit=100`, `starting_after`,
 * `has_more`); INCREMENTAL reads the Events API from the last event applied, oldest first
 * (`ending_before` walks up, each page reversed), one request when nothing happened. Events are
 * kept 30 days: an older checkpoint makes the run FULL, and says so.
 */
export const stripePoller: Poller = {
  resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, v.entity as CanonicalEntityType])),

  async plan(call, resource, mode, stored): Promise<RunPlan> {
    const r = resourceOf(resource);
    const checkpoint = stored as Checkpoint | null;
    let note: string | undefined;
    let effective: SyncMode = mode;
    if (mode === 'INCREMENTAL') {
      if (!checkpoint) {
        effective = 'FULL';
        note = 'no checkpoint yet: ran as FULL (backfill)';
      } else if (Date.now() - checkpoint.readAt * 1000 > EVENTS_KEPT_MS) {
        effective = 'FULL';
        note = `the checkpoint (${new Date(checkpoint.readAt * 1000).toISOString()}) is older than the 30 days Stripe keeps events: ran as FULL`;
      }
    }
    if (effective === 'FULL') return fullPlan(call, r, note);
    return { mode: 'INCREMENTAL', cursor: { phase: 'events', eventsAfter: checkpoint!.eventsAfter, readAt: checkpoint!.readAt } satisfies EventsCursor as unknown as Json };
  },

  async page(call, resource, raw): Promise<PollPage> {
    const r = resourceOf(resource);
    const requested = Date.now();
    const cursor = raw as unknown as ListCursor | EventsCursor;
    if (cursor.phase === 'list') {
      const page = await list(call, r.list, { limit: PAGE, ...(cursor.startingAfter ? { starting_after: cursor.startingAfter } : {}) });
      const at = snapshotTime(requested);
      const records = page.data.map<PolledRecord>((o) => ({ externalId: String(o.id), at, payload: snapshotEvent(`${o.object}.updated`, o, at) }));
      const last = page.data.at(-1)?.id ?? null;
      return { records, next: page.has_more && last ? ({ ...cursor, startingAfter: last } as unknown as Json) : null, checkpoint: cursor.leaves as unknown as Json };
    }
    const readAt = Math.floor(requested / 1000);
    if (cursor.eventsAfter) {
      // Up from the last event applied: the page just newer than it (Stripe lists newest first; reversed here).
      let page: StripeList;
      try {
        page = await list(call, '/v1/events', { limit: PAGE, types: r.events, ending_before: cursor.eventsAfter });
      } catch (err) {
        // The event to continue from is gone (Stripe keeps 30 days): read everything instead.
        if (err instanceof ProviderError && (err.httpStatus === 400 || err.httpStatus === 404)) {
          const full = await fullPlan(call, r, `Stripe no longer has event ${cursor.eventsAfter} to continue from (events are kept 30 days): ran as FULL`);
          return { records: [], next: full.cursor, checkpoint: null, switchTo: { mode: 'FULL', note: full.note! } };
        }
        throw err;
      }
      const events = [...page.data].reverse();
      const newest = events.at(-1);
      const checkpoint: Checkpoint = { eventsAfter: newest ? String(newest.id) : cursor.eventsAfter, readAt };
      return {
        records: events.map((e) => ({ externalId: String((e.data as { object?: { id?: unknown } })?.object?.id ?? e.id), at: Number(e.created) * 1000, payload: e })),
        next: page.has_more && newest ? ({ ...cursor, eventsAfter: newest.id } as unknown as Json) : null,
        checkpoint: checkpoint as unknown as Json,
      };
    }
    // No event to continue from: down from the newest, since `since` (order does not matter to
    // the rules, which order each field by its event's time).
    const page = await list(call, '/v1/events', { limit: PAGE, types: r.events, created: { gte: cursor.readAt - 60 }, ...(cursor.startingAfter ? { starting_after: cursor.startingAfter } : {}) });
    const newest = cursor.newest ?? page.data[0]?.id ?? null;
    const last = page.data.at(-1)?.id ?? null;
    const walkReadAt = cursor.walkReadAt ?? readAt;
    const checkpoint: Checkpoint = { eventsAfter: newest ? String(newest) : null, readAt: walkReadAt };
    return {
      records: page.data.map((e) => ({ externalId: String((e.data as { object?: { id?: unknown } })?.object?.id ?? e.id), at: Number(e.created) * 1000, payload: e })),
      next: page.has_more && last ? ({ ...cursor, startingAfter: last, newest, walkReadAt } as unknown as Json) : null,
      // Until the walk ends, the next run must not skip what it has not reached.
      checkpoint: (page.has_more ? { eventsAfter: cursor.eventsAfter, readAt: cursor.readAt } : checkpoint) as unknown as Json,
    };
  },

  async apply(page, resource, records) {
    resourceOf(resource);
    // Customer snapshots (listed objects, customer.created and customer.updated events) go through
    // the bulk path, a run of them at a time with each customer at most once per run (two events
    // of one customer apply in order); everything else through the webhook handler, one by one.
    const results: PageResult[] = [];
    let bulk: PolledRecord[] = [];
    let seen = new Set<string>();
    const flush = async () => {
      if (bulk.length) results.push(await applyCustomerSnapshots(page, bulk.map(customerSnapshot)));
      bulk = [];
      seen = new Set();
    };
    for (const record of records) {
      const event = record.payload as Json;
      const snapshot = resource === 'customers' && (event.type === 'customer.created' || event.type === 'customer.updated');
      if (snapshot && !seen.has(record.externalId)) {
        bulk.push(record);
        seen.add(record.externalId);
        continue;
      }
      await flush();
      if (snapshot) {
        bulk.push(record);
        seen.add(record.externalId);
      } else {
        results.push(await applyEach(page, [record], (ctx, r) => stripeHandler.handle(ctx, r.payload, undefined)));
      }
    }
    await flush();
    return mergeResults(results);
  },

  async read(call, entityType, externalId) {
    const resource = entityType === 'Customer' ? 'customers' : entityType === 'Invoice' ? 'invoices' : null;
    if (!resource) return null;
    const requested = Date.now();
    const object = await stripeGet(call, `${RESOURCES[resource].list}/${encodeURIComponent(externalId)}`, {});
    if (!object || object.deleted === true) return null;
    const at = snapshotTime(requested);
    return { resource, record: { externalId, at, payload: snapshotEvent(`${object.object}.updated`, object, at) } };
  },
};
