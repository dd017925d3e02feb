import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError, type CallContext } from '../connector.js';
import { applyCustomerSnapshots } from '../../sync/apply-customers.js';
import { applyEach } from '../../sync/apply-each.js';
import type { Json, Poller, PolledRecord, PollPage, RunPlan } from '../../sync/poller.js';
import { nonEmpty } from '../../webhooks/reconcile.js';
import { applyDealSnapshot, CONTACT_PROPERTIES, contactFacts, DEAL_PROPERTIES, hubspotRequest } from './inbound.js';

/** Search's page size limit. */
const PAGE = 200;
/** A search query pages through at most this many results. */
export const SEARCH_CAP = 10_000;
/** Search allows about 5 requests a second per account: this process keeps them this far apart (4 a second, room for jitter on the way). */
const SEARCH_SPACING_MS = 250;

/** Each resource: its CRM object, and the property holding its modification time (they differ). */
const RESOURCES = {
  contacts: { object: 'contacts', modified: 'lastmodifieddate', properties: CONTACT_PROPERTIES, entity: 'Customer' },
  deals: { object: 'deals', modified: 'hs_lastmodifieddate', properties: DEAL_PROPERTIES, entity: 'Contract' },
} as const;
type Resource = keyof typeof RESOURCES;

/**
 * Where a run is. `later`: records modified after `ts`, or at `ts` with an id above `afterId`,
 * oldest first (one query: two filter groups). `same`: records modified exactly at `ts` with an
 * id above `afterId`, by id. A query stops at 10,000 results, so a run narrows the window instead
 * of paging on, and when more than 10,000 records share one time it goes through them by id, so
 * it cannot loop. `after`: the page offset within the query.
 */
interface Cursor {
  phase: 'later' | 'same';
  ts: number;
  afterId: string;
  after: string | null;
  /** The newest modification time seen, and the greatest id seen at that time: where the next INCREMENTAL run starts. */
  maxTs: number;
  maxId?: string;
  /** When the run began (ms): records modified shortly before it may not have been searchable yet. */
  began?: number;
}

/**
 * INCREMENTAL runs read records modified after `ts`, or at `ts` with an id above `afterId`: the
 * records of the last run's newest instant are not read again (many can share one millisecond).
 */
interface Checkpoint {
  ts: number;
  afterId?: string;
}

/**
 * New and changed records take a moment to become searchable: a run does not move its checkpoint
 * past this long before it began, so the next run reads that window again (the records in it are
 * re-read and change nothing; one missing from the index when this run searched is found then).
 */
export const SEARCH_SETTLE_MS = 60_000;

const byId = (a: string, b: string) => (Number(a) > Number(b) ? a : b);

const lastSearch = new Map<string, number>();

/** Keeps this process's searches of one account (integration) SEARCH_SPACING_MS apart. */
async function searchTurn(key: string): Promise<void> {
  const now = Date.now();
  const next = Math.max(now, (lastSearch.get(key) ?? 0) + SEARCH_SPACING_MS);
  lastSearch.set(key, next);
  if (next > now) await sleep(next - now);
}

function resourceOf(resource: string) {
  const r = RESOURCES[resource as Resource];
  if (!r) throw new ProviderError('client', `HubSpot has no resource ${resource}; it has ${Object.keys(RESOURCES).join(', ')}`, false);
  return r;
}

/** A modification time property as epoch ms (HubSpot gives ISO text or epoch ms text). */
function millis(v: unknown): number {
  if (typeof v === 'number') return v;
  const text = String(v ?? '');
  return /^\d+$/.test(text) ? Number(text) : Date.parse(text) || 0;
}

interface SearchAnswer {
  results: Array<{ id: string; properties: Json; updatedAt?: string }>;
  paging?: { next?: { after?: string } };
}

/**
 * HubSpot: contacts and deals, through CRM search filtered on the modification time, ascending,
 * 200 a page (`after` paging), narrowing the window at the 10,000-result cap. FULL reads from the
 * beginning of time and ends the links of records not seen; INCREMENTAL from the checkpoint.
 */
export const hubspotPoller: Poller = {
  resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, v.entity])) as Poller['resources'],

  async plan(_call, resource, mode, stored): Promise<RunPlan> {
    resourceOf(resource);
    const checkpoint = stored as Checkpoint | null;
    if (mode === 'INCREMENTAL' && checkpoint) {
      const afterId = checkpoint.afterId ?? '0';
      return { mode, cursor: { phase: 'later', ts: checkpoint.ts, afterId, after: null, maxTs: checkpoint.ts, maxId: afterId, began: Date.now() } satisfies Cursor as unknown as Json };
    }
    return {
      mode: 'FULL',
      note: mode === 'INCREMENTAL' ? 'no checkpoint yet: ran as FULL (backfill)' : undefined,
      cursor: { phase: 'later', ts: 0, afterId: '0', after: null, maxTs: checkpoint?.ts ?? 0, began: Date.now() } satisfies Cursor as unknown as Json,
    };
  },

  async page(call, resource, raw): Promise<PollPage> {
    const r = resourceOf(resource);
    const cursor = raw as unknown as Cursor;
    const atTs = [
      { propertyName: r.modified, operator: 'EQ', value: String(cursor.ts) },
      { propertyName: 'hs_object_id', operator: 'GT', value: cursor.afterId },
    ];
    const filterGroups =
      cursor.phase === 'same'
        ? [{ filters: atTs }]
        : cursor.afterId === '0'
          ? [{ filters: [{ propertyName: r.modified, operator: 'GTE', value: String(cursor.ts) }] }]
          : [{ filters: atTs }, { filters: [{ propertyName: r.modified, operator: 'GT', value: String(cursor.ts) }] }];
    await searchTurn(call.baseUrl + String(call.credentials.accessToken));
    const answer = (await hubspotRequest(call, 'POST', `/crm/v3/objects/${r.object}/search`, {
      filterGroups,
      sorts: [{ propertyName: cursor.phase === 'later' ? r.modified : 'hs_object_id', direction: 'ASCENDING' }],
      properties: [...r.properties, r.modified, 'hs_object_id'],
      limit: PAGE,
      ...(cursor.after ? { after: cursor.after } : {}),
    })) as SearchAnswer | null;
    if (!answer || !Array.isArray(answer.results)) throw new ProviderError('server', 'HubSpot answered a search without results', true);
    // Deals made in HubSpot become contracts of their contact's customer: their contacts are read
    // here, in one batch, before the page's transaction.
    const contacts = r.entity === 'Contract' ? await dealContacts(call, answer.results.map((o) => String(o.id))) : null;
    const records: PolledRecord[] = answer.results.map((o) => ({
      externalId: String(o.id),
      at: millis(o.properties?.[r.modified] ?? o.updatedAt),
      payload: contacts ? { ...o, associations: { contacts: { results: (contacts.get(String(o.id)) ?? []).map((id) => ({ id })) } } } : o,
    }));
    const last = records.at(-1);
    let maxTs = cursor.maxTs;
    let maxId = cursor.maxId ?? '0';
    for (const x of records) {
      if (x.at > maxTs) [maxTs, maxId] = [x.at, x.externalId];
      else if (x.at === maxTs) maxId = byId(maxId, x.externalId);
    }
    const after = answer.paging?.next?.after ?? null;
    let next: Cursor | null = null;
    if (after !== null && Number(after) + PAGE <= SEARCH_CAP) {
      next = { ...cursor, after, maxTs, maxId };
    } else if (after !== null && last) {
      // The query's 10,000 results are used up: narrow the window from where this page ended.
      // Records at the page's last time are gone through by id (however many share it), then
      // the later ones: no query pages past the cap, and none is repeated.
      next =
        cursor.phase === 'same'
          ? { ...cursor, afterId: last.externalId, after: null, maxTs, maxId }
          : { phase: 'same', ts: last.at, afterId: last.at === cursor.ts ? cursor.afterId : '0', after: null, maxTs, maxId };
    } else if (cursor.phase === 'same') {
      // Every record at that one time is read: on to the later ones.
      next = { phase: 'later', ts: cursor.ts + 1, afterId: '0', after: null, maxTs, maxId };
    }
    // Mid-run, records of the newest instant may not all be read yet (search orders ties as it
    // likes): the checkpoint includes that instant. Once the run has read everything, it skips it.
    const settled = (cursor.began ?? Date.now()) - SEARCH_SETTLE_MS;
    const checkpoint: Checkpoint = next === null && maxTs <= settled ? { ts: maxTs, afterId: maxId } : { ts: Math.min(maxTs, settled) };
    return { records, next: next as unknown as Json | null, checkpoint: checkpoint as unknown as Json };
  },

  async apply(page, resource, records) {
    const r = resourceOf(resource);
    if (r.entity === 'Customer') {
      return applyCustomerSnapshots(
        page,
        records.map((rec) => {
          const props = ((rec.payload as Json).properties ?? {}) as Json;
          return {
            externalId: rec.externalId,
            at: rec.at,
            facts: contactFacts(props),
            gatewayId: nonEmpty(props.switchboard_id),
            remoteData: Object.fromEntries(CONTACT_PROPERTIES.map((p) => [p, props[p] ?? null])),
            extraClocks: CONTACT_PROPERTIES.map((p) => `hubspot.${p}`),
          };
        }),
      );
    }
    return applyEach(page, records, (ctx, rec) => applyDealSnapshot(ctx, rec.payload as Json));
  },

  async read(call, entityType, externalId) {
    const resource: Resource | null = entityType === 'Customer' ? 'contacts' : entityType === 'Contract' ? 'deals' : null;
    if (!resource) return null;
    const r = RESOURCES[resource];
    const object = (await hubspotRequest(
      call,
      'GET',
      `/crm/v3/objects/${r.object}/${encodeURIComponent(externalId)}?properties=${[...r.properties, r.modified].join(',')}${resource === 'deals' ? '&associations=contacts' : ''}`,
    )) as (Json & { properties?: Json }) | null;
    if (!object || object.archived === true) return null;
    return { resource, record: { externalId, at: millis(object.properties?.[r.modified] ?? object.updatedAt), payload: object } };
  },
};

/** Each deal's associated contacts (v4 batch read, up to 100 deals a request). */
async function dealContacts(call: CallContext, dealIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < dealIds.length; i += 100) {
    const answer = (await hubspotRequest(call, 'POST', '/crm/v4/associations/deals/contacts/batch/read', { inputs: dealIds.slice(i, i + 100).map((id) => ({ id })) })) as {
      results?: Array<{ from?: { id?: string }; to?: Array<{ toObjectId?: string | number }> }>;
    } | null;
    for (const row of answer?.results ?? []) {
      if (row.from?.id) out.set(String(row.from.id), (row.to ?? []).map((t) => String(t.toObjectId)));
    }
  }
  return out;
}
