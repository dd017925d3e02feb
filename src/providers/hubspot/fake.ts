import { WebhookPoster } from '../../sandbox/webhook-poster.js';
import { randomUUID } from 'node:crypto';
import type { ProviderHandler, RecordedRequest, Reply } from '../../sandbox/fake-server.js';
import { hubspotSignatureV3 } from './signature.js';

type Kind = 'contacts' | 'deals';

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  associations: string[];
}

export interface HubSpotState {
  contacts: Record<string, HubSpotRecord>;
  deals: Record<string, HubSpotRecord>;
}

/** Each object's modification time property: contacts and deals name it differently. */
const MODIFIED: Record<Kind, string> = { contacts: 'lastmodifieddate', deals: 'hs_lastmodifieddate' };
/** Search: at most 200 a page, 10,000 results a query, about 5 requests a second per account. */
const SEARCH_PAGE_MAX = 200;
const SEARCH_CAP = 10_000;
const SEARCH_PER_SECOND = 5;

const hsError = (status: number, category: string, message: string): Reply => ({
  status,
  body: { status: 'error', message, correlationId: randomUUID(), category },
});

/** A datetime property as epoch ms (stored as ISO text, filtered as epoch ms text). */
const millis = (v: string | null | undefined): number => (v == null ? NaN : /^\d+$/.test(v) ? Number(v) : Date.parse(v));

interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
  values?: string[];
}

function matches(record: HubSpotRecord, filter: Filter): boolean {
  const raw = filter.propertyName === 'hs_object_id' ? record.id : record.properties[filter.propertyName];
  if (filter.operator === 'HAS_PROPERTY') return raw != null && raw !== '';
  if (filter.operator === 'NOT_HAS_PROPERTY') return raw == null || raw === '';
  if (filter.operator === 'IN') return (filter.values ?? []).map(String).includes(String(raw));
  if (raw == null) return false;
  const numeric = /date$|^hs_object_id$/.test(filter.propertyName);
  const a = numeric ? millis(raw) : raw;
  const b = numeric ? millis(String(filter.value)) : String(filter.value);
  switch (filter.operator) {
    case 'EQ':
      return a === b;
    case 'NEQ':
      return a !== b;
    case 'GT':
      return a > b;
    case 'GTE':
      return a >= b;
    case 'LT':
      return a < b;
    case 'LTE':
      return a <= b;
    default:
      throw new Error(`operator ${filter.operator}`);
  }
}

/**
 * HubSpot CRM v3: Bearer token, batch upsert by idProperty, string ids and values, reads, CRM
 * search (filters, sorts, `after` paging, the 10,000-result cap, the per-second search limit),
 * v4 associations, and 429 bodies.
 */
/** The sandbox app's id, as HubSpot puts it in every webhook event (`appId`). */
const APP_ID = 1160452;

export class HubSpotFake implements ProviderHandler {
  private s: HubSpotState = { contacts: {}, deals: {} };
  private nextId = 51;
  /** Search requests per token in the last second (HubSpot's secondly search limit). */
  private readonly searches = new Map<string, number[]>();
  /** Search requests answered 429 for going over the per-second limit. */
  searchesLimited = 0;
  private webhook: { url: string; secret: string; dropRate?: number } | null = null;
  /** Webhook events sent (or dropped), for tests. */
  readonly deliveries: Array<{ eventId: number; subscriptionType: string; objectId: number; status: number | null; dropped?: boolean }> = [];
  private nextEventId = 100;

  constructor(private readonly random: () => number = Math.random) {
    this.webhooks = new WebhookPoster(random);
  }

  /** Where the app's webhooks go (signed v3 with the app's client secret); `dropRate`: the share never sent. */
  setWebhook(target: { url: string; secret?: string; dropRate?: number } | null): void {
    // Events are signed with the app's client secret: without one there is nothing to send.
    this.webhook = target?.secret ? { url: target.url, secret: target.secret, dropRate: target.dropRate } : null;
  }

  /**
   * Like HubSpot: changes made in the CRM reach the app's webhook URL as a JSON array of events
   * (one per changed property), signed v3, retried a few times when not answered 2xx.
   */
  private emit(kind: Kind, objectId: string, subscription: 'creation' | 'propertyChange' | 'deletion', occurredAt: number, properties: Record<string, string | null> = {}, byApp = false): void {
    const target = this.webhook;
    if (!target) return;
    const type = `${kind === 'contacts' ? 'contact' : 'deal'}.${subscription}`;
    // A change the app made through the API is reported too, marked as the app's own: HubSpot's
    // `changeSource: INTEGRATION` with the app's id as `sourceId`.
    const origin = byApp ? { changeSource: 'INTEGRATION', sourceId: String(APP_ID) } : { changeSource: 'CRM_UI', sourceId: 'userId:1123581' };
    const base = { subscriptionId: 4242, portalId: 62515, appId: APP_ID, occurredAt, subscriptionType: type, attemptNumber: 0, objectId: Number(objectId), ...origin };
    const events = subscription === 'propertyChange' ? Object.entries(properties).map(([propertyName, propertyValue]) => ({ ...base, eventId: this.nextEventId++, propertyName, propertyValue })) : [{ ...base, eventId: this.nextEventId++ }];
    for (const event of events) {
      const delivery: (typeof this.deliveries)[number] = { eventId: event.eventId, subscriptionType: type, objectId: Number(objectId), status: null };
      this.deliveries.push(delivery);
      if (target.dropRate && this.random() < target.dropRate) {
        delivery.dropped = true;
        continue;
      }
      // HubSpot retries an event it got no 2xx for, and guarantees neither order nor a single delivery.
      this.webhooks.send(
        (n) => {
          const body = JSON.stringify([{ ...event, attemptNumber: n }]);
          const ts = Date.now();
          return fetch(target.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': hubspotSignatureV3(target.secret, 'POST', target.url, body, ts), 'x-hubspot-request-timestamp': String(ts) },
            body,
          }).then((r) => r.status, () => 0);
        },
        (status) => (delivery.status = status),
      );
    }
  }

  /** Webhook sending, with its faults (POST /__sandbox/webhook-faults): duplicated and reordered deliveries. */
  readonly webhooks: WebhookPoster;

  control(method: string, path: string, body: unknown): Reply | undefined {
    return this.webhooks.control(method, path, body);
  }

  reset() {
    this.s = { contacts: {}, deals: {} };
    this.nextId = 51;
    this.searches.clear();
    this.searchesLimited = 0;
    this.deliveries.length = 0;
    this.webhook = null;
    this.webhooks.reset();
  }

  state(): HubSpotState {
    return this.s;
  }

  errorReply(status: number, message: string): Reply {
    if (status === 429) {
      return { status, body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'TEN_SECONDLY_ROLLING' } };
    }
    return hsError(status, 'INTERNAL_ERROR', message);
  }

  /** A record made in HubSpot itself (a user in the CRM, an import); `at` fixes its times. */
  createObject(kind: Kind, properties: Record<string, string | null>, associations: string[] = [], at = new Date()): string {
    const now = at.toISOString();
    const id = String(this.nextId++);
    this.s[kind][id] = { id, properties: { ...properties, createdate: now, [MODIFIED[kind]]: now, hs_object_id: id }, createdAt: now, updatedAt: now, archived: false, associations };
    this.emit(kind, id, 'creation', at.getTime());
    return id;
  }

  /** A change made in HubSpot itself: the properties and the modification time. */
  updateObject(kind: Kind, id: string, properties: Record<string, string | null>, at = new Date()): void {
    const record = this.s[kind][id];
    if (!record) throw new Error(`no ${kind} ${id}`);
    this.touch(kind, record, properties, at.toISOString());
    this.emit(kind, id, 'propertyChange', at.getTime(), properties);
  }

  /** Archived (deleted) in HubSpot: gone from search and reads. */
  archiveObject(kind: Kind, id: string): void {
    delete this.s[kind][id];
    this.emit(kind, id, 'deletion', Date.now());
  }

  seed(counts: Record<string, number>): Record<string, string[]> {
    const made: Record<string, string[]> = { contacts: [] };
    const n = Math.max(0, Math.min(200_000, Number(counts.contacts ?? 0)));
    // As a portal's records are: modified over the past day, oldest first.
    const start = Date.now() - 86_400_000;
    for (let i = 0; i < n; i++) {
      made.contacts.push(this.createObject('contacts', { email: `seeded-${this.nextId}@example.com`, firstname: 'Seeded', lastname: String(this.nextId) }, [], new Date(start + Math.floor((i * 86_000_000) / n))));
    }
    return made;
  }

  private touch(kind: Kind, record: HubSpotRecord, properties: Record<string, string | null>, now: string): void {
    Object.assign(record.properties, properties, { [MODIFIED[kind]]: now });
    record.updatedAt = now;
  }

  /** The properties a read or search returns: those asked for (null when unset) and HubSpot's defaults. */
  private view(kind: Kind, record: HubSpotRecord, wanted: string[]) {
    const properties = Object.fromEntries([...new Set([...wanted, 'createdate', MODIFIED[kind], 'hs_object_id'])].map((k) => [k, record.properties[k] ?? null]));
    return { id: record.id, properties, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: false };
  }

  private search(kind: Kind, token: string, body: Record<string, unknown>): Reply {
    const now = Date.now();
    const recent = (this.searches.get(token) ?? []).filter((t) => t > now - 1000);
    if (recent.length >= SEARCH_PER_SECOND) {
      this.searchesLimited++;
      this.searches.set(token, recent);
      return { status: 429, body: { status: 'error', message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'SECONDLY' } };
    }
    recent.push(now);
    this.searches.set(token, recent);
    const limit = body.limit === undefined ? 10 : Number(body.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > SEARCH_PAGE_MAX) return hsError(400, 'VALIDATION_ERROR', `limit must be between 1 and ${SEARCH_PAGE_MAX}`);
    const after = body.after === undefined ? 0 : Number(body.after);
    if (!Number.isInteger(after) || after < 0) return hsError(400, 'VALIDATION_ERROR', 'after must be a non-negative integer');
    if (after + limit > SEARCH_CAP) return hsError(400, 'VALIDATION_ERROR', `paging through more than ${SEARCH_CAP} results of one search is not supported`);
    const groups = (body.filterGroups ?? []) as Array<{ filters?: Filter[] }>;
    if (groups.length > 5 || groups.some((g) => (g.filters ?? []).length > 6)) return hsError(400, 'VALIDATION_ERROR', 'at most 5 filterGroups of 6 filters');
    let rows = Object.values(this.s[kind]).filter((r) => groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matches(r, f))));
    const sorts = (body.sorts ?? []) as Array<{ propertyName: string; direction?: string } | string>;
    const sort = sorts[0] === undefined ? { propertyName: 'hs_object_id', direction: 'ASCENDING' } : typeof sorts[0] === 'string' ? { propertyName: sorts[0].replace(/^-/, ''), direction: sorts[0].startsWith('-') ? 'DESCENDING' : 'ASCENDING' } : sorts[0];
    const key = (r: HubSpotRecord) => (sort.propertyName === 'hs_object_id' ? Number(r.id) : /date$/.test(sort.propertyName) ? millis(r.properties[sort.propertyName]) : r.properties[sort.propertyName] ?? '');
    const sign = sort.direction === 'DESCENDING' ? -1 : 1;
    rows = rows.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka < kb ? -sign : ka > kb ? sign : Number(a.id) - Number(b.id);
    });
    const wanted = Array.isArray(body.properties) ? (body.properties as string[]) : [];
    const page = rows.slice(after, after + limit).map((r) => this.view(kind, r, wanted));
    const next = after + limit < rows.length ? { next: { after: String(after + limit), link: `?after=${after + limit}` } } : undefined;
    return { status: 200, body: { total: rows.length, results: page, ...(next ? { paging: next } : {}) } };
  }

  handle(req: RecordedRequest): Reply {
    const token = /^Bearer (\S+)/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!token) return hsError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.');
    const now = new Date().toISOString();
    const path = req.path.split('?')[0];
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    const upsert = (kind: Kind, idProperty: string, inputs: Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>) => {
      const store = this.s[kind];
      const results = inputs.map((input) => {
        if (input.idProperty !== idProperty) throw new Error(`idProperty must be ${idProperty}`);
        const match = Object.values(store).find((r) => r.properties[idProperty] === input.id);
        const properties = Object.fromEntries(Object.entries(input.properties).map(([k, v]) => [k, v === null ? null : String(v)]));
        if (match) {
          const changed = Object.fromEntries(Object.entries(properties).filter(([k, v]) => (match.properties[k] ?? null) !== v));
          this.touch(kind, match, properties, now);
          if (Object.keys(changed).length) this.emit(kind, match.id, 'propertyChange', Date.parse(now), changed, true);
          return { ...match, new: false };
        }
        const id = String(this.nextId++);
        const record: HubSpotRecord = { id, properties: { ...properties, [idProperty]: input.id, createdate: now, [MODIFIED[kind]]: now, hs_object_id: id }, createdAt: now, updatedAt: now, archived: false, associations: [] };
        store[id] = record;
        this.emit(kind, id, 'creation', Date.parse(now), {}, true);
        return { ...record, new: true };
      });
      return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
    };
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/batch/upsert') {
      const inputs = body.inputs as Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>;
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) return hsError(400, 'VALIDATION_ERROR', 'inputs must hold 1 to 100 records');
      if (inputs.some((i) => !/^[^@\s]+@[^@\s]+$/.test(i.id))) return hsError(400, 'VALIDATION_ERROR', 'Property values were not valid: email');
      return upsert('contacts', 'email', inputs);
    }
    if (req.method === 'POST' && path === '/crm/v3/objects/deals/batch/upsert') {
      const inputs = body.inputs as Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>;
      return upsert('deals', 'switchboard_contract_id', inputs);
    }
    const patch = /^\/crm\/v3\/objects\/(contacts|deals)\/(\w+)$/.exec(path);
    if (req.method === 'PATCH' && patch) {
      const kind = patch[1] as Kind;
      const record = this.s[kind][patch[2]];
      if (!record) return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.');
      const input = (body.properties ?? {}) as Record<string, unknown>;
      const properties = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, v === null ? null : String(v)]));
      if (kind === 'contacts' && properties.email && Object.values(this.s.contacts).some((r) => r.id !== record.id && r.properties.email === properties.email)) {
        return hsError(409, 'CONFLICT', `Contact already exists. Existing ID: ${Object.values(this.s.contacts).find((r) => r.properties.email === properties.email)!.id}`);
      }
      const changed = Object.fromEntries(Object.entries(properties).filter(([k, v]) => (record.properties[k] ?? null) !== v));
      this.touch(kind, record, properties, now);
      if (Object.keys(changed).length) this.emit(kind, record.id, 'propertyChange', Date.parse(now), changed, true);
      return { status: 200, body: this.view(kind, record, Object.keys(input)) };
    }
    const search = /^\/crm\/v3\/objects\/(contacts|deals)\/search$/.exec(path);
    if (req.method === 'POST' && search) return this.search(search[1] as Kind, token, body);
    const read = /^\/crm\/v3\/objects\/(contacts|deals)\/(\w+)$/.exec(path);
    if (req.method === 'GET' && read) {
      const kind = read[1] as Kind;
      const record = this.s[kind][read[2]];
      if (!record) return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.');
      const query = new URLSearchParams(req.path.split('?')[1] ?? '');
      const answer: Record<string, unknown> = this.view(kind, record, (query.get('properties') ?? '').split(',').filter(Boolean));
      if (kind === 'deals' && (query.get('associations') ?? '').split(',').includes('contacts')) {
        answer.associations = { contacts: { results: record.associations.map((id) => ({ id, type: 'deal_to_contact' })) } };
      }
      return { status: 200, body: answer };
    }
    if (req.method === 'POST' && path === '/crm/v4/associations/deals/contacts/batch/read') {
      const inputs = (body.inputs ?? []) as Array<{ id: string }>;
      if (!Array.isArray(inputs) || inputs.length > 1000) return hsError(400, 'VALIDATION_ERROR', 'inputs must hold at most 1,000 ids');
      const results = inputs
        .map((i) => this.s.deals[String(i.id)])
        .filter((d): d is HubSpotRecord => d !== undefined && d.associations.length > 0)
        .map((d) => ({ from: { id: d.id }, to: d.associations.map((c) => ({ toObjectId: Number(c), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 3, label: null }] })) }));
      return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
    }
    const assoc = /^\/crm\/v4\/objects\/deals\/(\w+)\/associations\/contacts\/(\w+)$/.exec(path);
    if (req.method === 'PUT' && assoc) {
      const deal = this.s.deals[assoc[1]];
      if (!deal || !this.s.contacts[assoc[2]]) return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found');
      if (!deal.associations.includes(assoc[2])) deal.associations.push(assoc[2]);
      return { status: 200, body: { fromObjectTypeId: '0-3', fromObjectId: Number(assoc[1]), toObjectTypeId: '0-1', toObjectId: Number(assoc[2]) } };
    }
    return hsError(404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${path}`);
  }
}
