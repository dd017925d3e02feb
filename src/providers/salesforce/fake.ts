import { randomBytes } from 'node:crypto';
import type { ProviderHandler, RecordedRequest, Reply } from '../../sandbox/fake-server.js';
import { EXTERNAL_ID_FIELD } from './api.js';
import { salesforceId18 } from './signature.js';
import { compareValues, parseSoql, SoqlError, type SoqlQuery } from './soql.js';
import { outboundMessageXml, type OutboundNotification } from './soap.js';

/** The connected app the sandbox knows (the client credentials flow's consumer key and secret). */
export const SANDBOX_CLIENT_ID = '3MVG9sandbox.Switchboard.Connected.App';
export const SANDBOX_CLIENT_SECRET = 'sandbox-consumer-secret-0123456789ABCDEF';

/** A well-formed id of this key prefix (`001` Account, `006` Opportunity, `04l` notification, `00D` org). */
export function fakeSalesforceId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const body = [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('');
  return salesforceId18(`${prefix}${body}`)!;
}

type SObjectType = 'Account' | 'Opportunity';
export type SObjectRecord = Record<string, string | number | boolean | null>;

/** Fields an upsert may write, per object (others: INVALID_FIELD, as an org without them answers). */
const WRITABLE: Record<SObjectType, string[]> = {
  Account: ['Name', 'Phone', 'Description'],
  Opportunity: ['Name', 'StageName', 'Amount', 'CloseDate', 'AccountId', 'Description'],
};
/** Fields a query may select, per object (others: INVALID_FIELD, as Salesforce answers). */
const QUERYABLE: Record<SObjectType, string[]> = {
  Account: ['Id', 'Name', 'Phone', 'Description', EXTERNAL_ID_FIELD, 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'],
  Opportunity: ['Id', 'Name', 'StageName', 'Amount', 'CloseDate', 'AccountId', 'IsClosed', 'IsWon', 'Description', EXTERNAL_ID_FIELD, 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'],
};
/** How long getDeleted reports deletions (Salesforce: 15 days, less if the Recycle Bin is emptied). */
const DELETED_KEPT_MS = 15 * 24 * 3600 * 1000;
const REQUIRED: Record<SObjectType, string[]> = { Account: ['Name'], Opportunity: ['Name', 'StageName', 'CloseDate'] };
const KEY_PREFIX: Record<SObjectType, string> = { Account: '001', Opportunity: '006' };
const STAGES = ['Prospecting', 'Qualification', 'Needs Analysis', 'Value Proposition', 'Id. Decision Makers', 'Perception Analysis', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'];
/** Fields each object's outbound message carries (the workflow action's field list). */
const OUTBOUND_FIELDS: Record<SObjectType, string[]> = {
  Account: ['Id', 'Name', 'Phone', EXTERNAL_ID_FIELD, 'LastModifiedDate', 'SystemModstamp'],
  Opportunity: ['Id', 'Name', 'StageName', 'Amount', 'CloseDate', 'AccountId', 'IsClosed', 'IsWon', EXTERNAL_ID_FIELD, 'SystemModstamp'],
};

export interface SalesforceState {
  organizationId: string;
  accounts: Record<string, SObjectRecord>;
  opportunities: Record<string, SObjectRecord>;
  /** The delete log getDeleted reads: id and deletion time (ISO), per object. */
  deleted: Record<SObjectType, Array<{ id: string; deletedDate: string }>>;
  /** Queries answered (`/query` and query locators). */
  queries: number;
  /** Token requests answered with a token. */
  tokensIssued: number;
  /** REST calls refused with 401 INVALID_SESSION_ID. */
  expiredSessionRefusals: number;
  /** The org's rolling 24-hour allocation: calls counted, and allowed. */
  apiUsage: { used: number; allowed: number };
}

export interface OutboundDelivery {
  notificationIds: string[];
  sObjectType: string;
  /** HTTP status answered (0: no answer). */
  status: number;
  acked: boolean;
}

export interface OutboundFaults {
  /** Share of acknowledged messages Salesforce sends again anyway (it may deliver more than once). */
  duplicateRate: number;
  /** Notifications of one flush are shuffled and split into several messages, sent in any order. */
  shuffle: boolean;
}

const sfErrors = (status: number, errorCode: string, message: string, fields: string[] = []): Reply => ({ status, body: [{ message, errorCode, ...(fields.length ? { fields } : {}) }] });
const restTime = (iso: string) => iso.replace('Z', '+0000');

/**
 * Salesforce for the sandbox: OAuth 2.0 client credentials with sessions that end
 * (`sessionSeconds`, or `expireSessions()` at once: 401 INVALID_SESSION_ID afterwards), Accounts
 * and Opportunities upserted by external id (201 created, 204 updated, 300 on several matches,
 * REQUIRED_FIELD_MISSING, INVALID_FIELD), Sforce-Limit-Info on every answer and
 * REQUEST_LIMIT_EXCEEDED once the allocation is spent, a minimal SOQL query, and Outbound
 * Messages (SOAP, up to 100 notifications each) posted as its records change, retried until
 * acknowledged.
 */
export class SalesforceFake implements ProviderHandler {
  readonly organizationId = fakeSalesforceId('00D');
  private s: SalesforceState = this.empty();
  private readonly sessions = new Map<string, number>();
  private readonly clients = new Map<string, string>([[SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET]]);
  /** How long a session lasts (Salesforce's default is 2 hours, set per org). */
  sessionSeconds = 7_200;
  /** An upsert that updates answers 204 (the issue's and older versions' behaviour) or 200 with the id. */
  updateStatus: 200 | 204 = 204;
  private webhook: string | null = null;
  private queued: Array<{ id: string; type: SObjectType; recordId: string }> = [];
  private flushing = false;
  readonly deliveries: OutboundDelivery[] = [];
  outboundFaults: OutboundFaults = { duplicateRate: 0, shuffle: false };
  private clock = 0;

  private empty(): SalesforceState {
    return {
      organizationId: this.organizationId,
      accounts: {},
      opportunities: {},
      deleted: { Account: [], Opportunity: [] },
      queries: 0,
      tokensIssued: 0,
      expiredSessionRefusals: 0,
      apiUsage: { used: 0, allowed: 15_000 },
    };
  }

  reset(): void {
    this.s = this.empty();
    this.webhook = null;
    this.sessions.clear();
    this.queued = [];
    this.deliveries.length = 0;
    this.outboundFaults = { duplicateRate: 0, shuffle: false };
    this.sessionSeconds = 7_200;
    this.updateStatus = 204;
    this.results.clear();
    this.queryBatchSize = 2_000;
    this.deleteLogStart = null;
    this.expireAtQuery = null;
  }

  state(): SalesforceState {
    return this.s;
  }

  /** Every session ends now, as when an org's session timeout passes or an admin revokes them. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** Every session ends once this many more query pages have been answered (a session ending mid-run). */
  expireSessionsAfterQueries(count: number): void {
    this.expireAtQuery = this.s.queries + count;
  }

  private expireAtQuery: number | null = null;

  /** Another connected app's credentials. */
  registerClient(clientId: string, clientSecret: string): void {
    this.clients.set(clientId, clientSecret);
  }

  setApiUsage(used: number, allowed = this.s.apiUsage.allowed): void {
    this.s.apiUsage = { used, allowed };
  }

  /** Outbound Messages go to this URL (the integration's webhookUrl, with its token); null stops them. */
  setWebhook(target: { url: string } | null): void {
    this.webhook = target?.url ?? null;
  }

  /**
   * `POST /__sandbox/expire-sessions`; `POST /__sandbox/records {"type","fields","id"?}` (a
   * person's edit: answers the id); `POST /__sandbox/api-usage {"used","allowed"?}`;
   * `POST /__sandbox/outbound-faults {"duplicateRate"?,"shuffle"?}`.
   */
  control(method: string, path: string, body: unknown): Reply | undefined {
    if (method !== 'POST') return undefined;
    const input = (body ?? {}) as Record<string, unknown>;
    if (path === '/__sandbox/expire-sessions') {
      this.expireSessions();
      return { status: 200, body: { expired: true } };
    }
    if (path === '/__sandbox/records') {
      if (input.type !== 'Account' && input.type !== 'Opportunity') return { status: 400, body: { error: 'type must be Account or Opportunity' } };
      try {
        return { status: 200, body: { id: this.userChange(input.type, (input.fields ?? {}) as SObjectRecord, typeof input.id === 'string' ? input.id : undefined) } };
      } catch (err) {
        return { status: 404, body: { error: (err as Error).message } };
      }
    }
    if (path === '/__sandbox/delete') {
      if (input.type !== 'Account' && input.type !== 'Opportunity') return { status: 400, body: { error: 'type must be Account or Opportunity' } };
      return this.deleteRecord(input.type, String(input.id ?? '')) ? { status: 200, body: { deleted: true } } : { status: 404, body: { error: `no ${input.type} ${String(input.id)}` } };
    }
    if (path === '/__sandbox/api-usage') {
      this.setApiUsage(Number(input.used ?? 0), input.allowed === undefined ? undefined : Number(input.allowed));
      return { status: 200, body: this.s.apiUsage };
    }
    if (path === '/__sandbox/outbound-faults') {
      this.outboundFaults = { ...this.outboundFaults, ...(input as Partial<OutboundFaults>) };
      return { status: 200, body: this.outboundFaults };
    }
    return undefined;
  }

  errorReply(status: number, message: string): Reply {
    // Salesforce's REST API signals a request rate it will not take with 403 REQUEST_LIMIT_EXCEEDED, not 429.
    if (status === 429) return sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.');
    return sfErrors(status, status === 503 ? 'SERVER_UNAVAILABLE' : 'UNKNOWN_EXCEPTION', message);
  }

  /** A monotonic SystemModstamp, so two changes never share one (ISO, UTC, milliseconds). */
  private now(): string {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock).toISOString();
  }

  private store(type: SObjectType): Record<string, SObjectRecord> {
    return type === 'Account' ? this.s.accounts : this.s.opportunities;
  }

  /** A record made or changed by a user in Salesforce (not through the API): its outbound message follows. */
  userChange(type: SObjectType, fields: SObjectRecord, id?: string): string {
    const store = this.store(type);
    const at = this.now();
    let record: SObjectRecord;
    if (id) {
      record = store[id];
      if (!record) throw new Error(`no ${type} ${id}`);
    } else {
      id = fakeSalesforceId(KEY_PREFIX[type]);
      record = store[id] = { Id: id, CreatedDate: at };
    }
    Object.assign(record, fields, { LastModifiedDate: at, SystemModstamp: at });
    this.derive(type, record);
    this.notify(type, id);
    return id;
  }

  /**
   * Records that exist before the test, as an org's are: modified over the past day, several to a
   * second (SystemModstamp has whole seconds), oldest first. `at` sets one record's SystemModstamp.
   */
  seedRecords(type: SObjectType, count: number, make: (i: number) => SObjectRecord, at: (i: number) => number = (i) => Date.now() - 86_400_000 + Math.floor((i * 86_000_000) / Math.max(1, count))): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const stamp = new Date(Math.floor(at(i) / 1000) * 1000).toISOString();
      const id = fakeSalesforceId(KEY_PREFIX[type]);
      const record: SObjectRecord = { Id: id, ...make(i), CreatedDate: stamp, LastModifiedDate: stamp, SystemModstamp: stamp };
      this.derive(type, record);
      this.store(type)[id] = record;
      ids.push(id);
    }
    return ids;
  }

  /** `POST /__sandbox/seed {"accounts": n, "opportunities": n}`: opportunities go to seeded accounts. */
  seed(counts: Record<string, number>): Record<string, string[]> {
    const clamp = (v: unknown) => Math.max(0, Math.min(200_000, Number(v ?? 0)));
    const accounts = this.seedRecords('Account', clamp(counts.accounts), (i) => ({ Name: `Seeded Account ${i}`, Phone: `+1 555 ${String(i).padStart(7, '0')}` }));
    const pool = accounts.length ? accounts : Object.keys(this.s.accounts);
    const opportunities = pool.length
      ? this.seedRecords('Opportunity', clamp(counts.opportunities), (i) => ({ Name: `Seeded Opportunity ${i}`, StageName: STAGES[i % STAGES.length], Amount: 1000 + i, CloseDate: '2030-01-01', AccountId: pool[i % pool.length] }))
      : [];
    return { accounts, opportunities };
  }

  /** Deleted in Salesforce (to the Recycle Bin): gone from queries, in getDeleted's log. */
  deleteRecord(type: SObjectType, id: string): boolean {
    const store = this.store(type);
    if (!store[id]) return false;
    delete store[id];
    this.s.deleted[type].push({ id, deletedDate: this.now() });
    return true;
  }

  /** The delete log was purged up to now (Recycle Bin emptied): earlier windows are no longer covered. */
  purgeDeleteLog(): void {
    this.deleteLogStart = Date.now();
    this.s.deleted = { Account: [], Opportunity: [] };
  }

  private deleteLogStart: number | null = null;

  /** A second record with this external id (a data-quality problem: the next upsert answers 300). */
  duplicateExternalId(type: SObjectType, value: string): string {
    return this.userChange(type, { Name: `Duplicate of ${value}`, [EXTERNAL_ID_FIELD]: value, ...(type === 'Opportunity' ? { StageName: 'Prospecting', CloseDate: '2030-01-01' } : {}) });
  }

  private derive(type: SObjectType, record: SObjectRecord): void {
    if (type === 'Opportunity') {
      record.IsClosed = record.StageName === 'Closed Won' || record.StageName === 'Closed Lost';
      record.IsWon = record.StageName === 'Closed Won';
    }
  }

  async handle(req: RecordedRequest): Promise<Reply> {
    const [path, search = ''] = req.path.split('?');
    if (req.method === 'POST' && path === '/services/oauth2/token') return this.token(req.body);
    if (!path.startsWith('/services/data/')) return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
    const bearer = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const expires = bearer ? this.sessions.get(bearer) : undefined;
    if (expires === undefined || expires < Date.now()) {
      if (bearer) this.sessions.delete(bearer);
      this.s.expiredSessionRefusals++;
      return sfErrors(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    }
    const usage = this.s.apiUsage;
    if (usage.used >= usage.allowed) return this.limited(sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'));
    usage.used++;
    return this.limited(this.rest(req.method, path, new URLSearchParams(search), req.body));
  }

  private limited(reply: Reply): Reply {
    const { used, allowed } = this.s.apiUsage;
    return { ...reply, headers: { ...reply.headers, 'sforce-limit-info': `api-usage=${used}/${allowed}` } };
  }

  private token(body: string): Reply {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'grant type not supported' } };
    const id = form.get('client_id') ?? '';
    if (!this.clients.has(id) || this.clients.get(id) !== form.get('client_secret')) {
      return { status: 400, body: { error: 'invalid_client', error_description: 'invalid client credentials' } };
    }
    const token = `${this.organizationId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    this.sessions.set(token, Date.now() + this.sessionSeconds * 1000);
    this.s.tokensIssued++;
    return {
      status: 200,
      body: {
        access_token: token,
        signature: randomBytes(32).toString('base64'),
        token_format: 'opaque',
        scope: 'api',
        instance_url: 'https://switchboard-sandbox.my.salesforce.com',
        id: `https://login.salesforce.com/id/${this.organizationId}/${fakeSalesforceId('005')}`,
        token_type: 'Bearer',
        issued_at: String(Date.now()),
      },
    };
  }

  private rest(method: string, path: string, query: URLSearchParams, body: string): Reply {
    const byExternalId = /^\/services\/data\/v\d+\.\d\/sobjects\/(\w+)\/(\w+)\/([^/]+)$/.exec(path);
    if (byExternalId && byExternalId[2] !== 'Id') {
      const type = byExternalId[1] as SObjectType;
      if (!WRITABLE[type]) return sfErrors(404, 'NOT_FOUND', `The requested resource does not exist`);
      if (byExternalId[2] !== EXTERNAL_ID_FIELD) return sfErrors(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${byExternalId[2]}`);
      const value = decodeURIComponent(byExternalId[3]);
      const matches = Object.values(this.store(type)).filter((r) => r[EXTERNAL_ID_FIELD] === value);
      if (method === 'GET') {
        if (matches.length === 0) return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
        if (matches.length > 1) return { status: 300, body: matches.map((r) => `/services/data/v62.0/sobjects/${type}/${String(r.Id)}`) };
        return { status: 200, body: this.rendered(type, matches[0], query.get('fields')?.split(',')) };
      }
      if (method === 'PATCH') return this.upsert(type, value, matches, body);
    }
    const deleted = /^\/services\/data\/v\d+\.\d\/sobjects\/(\w+)\/deleted\/?$/.exec(path);
    if (deleted && method === 'GET') return this.getDeleted(deleted[1], query.get('start'), query.get('end'));
    if (path.endsWith('/query') && method === 'GET') return this.query(query.get('q') ?? '');
    const locator = /\/query\/(\w+)-(\d+)$/.exec(path);
    if (locator && method === 'GET') return this.queryPage(locator[1], Number(locator[2]));
    return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  private rendered(type: SObjectType, record: SObjectRecord, fields?: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type, url: `/services/data/v62.0/sobjects/${type}/${String(record.Id)}` } };
    for (const k of fields ?? Object.keys(record)) {
      const v = record[k] ?? null;
      out[k] = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? restTime(v) : v;
    }
    return out;
  }

  private upsert(type: SObjectType, value: string, matches: SObjectRecord[], raw: string): Reply {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sfErrors(400, 'JSON_PARSER_ERROR', 'Unexpected character in the request body');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return sfErrors(400, 'JSON_PARSER_ERROR', 'The body must be a JSON object');
    for (const key of Object.keys(body)) {
      if (key === 'Id' || key === EXTERNAL_ID_FIELD) return sfErrors(400, 'INVALID_FIELD', `Do not specify ${key} in an upsert by ${EXTERNAL_ID_FIELD}`, [key]);
      if (!WRITABLE[type].includes(key)) return sfErrors(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${type}`, [key]);
    }
    if (matches.length > 1) return { status: 300, body: matches.map((r) => `/services/data/v62.0/sobjects/${type}/${String(r.Id)}`) };
    if (type === 'Opportunity') {
      if (body.Amount !== undefined && body.Amount !== null && typeof body.Amount !== 'number') return sfErrors(400, 'JSON_PARSER_ERROR', 'Amount must be a number', ['Amount']);
      if (body.CloseDate !== undefined && (typeof body.CloseDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.CloseDate))) return sfErrors(400, 'INVALID_TYPE_ON_FIELD_IN_RECORD', 'Close Date: value not of required type', ['CloseDate']);
      if (body.StageName !== undefined && !STAGES.includes(String(body.StageName))) return sfErrors(400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `Stage: bad value for restricted picklist field: ${String(body.StageName)}`, ['StageName']);
      if (typeof body.AccountId === 'string' && !this.s.accounts[body.AccountId]) return sfErrors(400, 'INVALID_CROSS_REFERENCE_KEY', 'Account ID: id value of incorrect type or not found', ['AccountId']);
    }
    const existing = matches[0];
    const merged = { ...(existing ?? {}), ...body };
    const missing = REQUIRED[type].filter((f) => merged[f] === undefined || merged[f] === null || merged[f] === '');
    if (missing.length) return sfErrors(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    const at = this.now();
    if (existing) {
      Object.assign(existing, body, { LastModifiedDate: at, SystemModstamp: at });
      this.derive(type, existing);
      this.notify(type, existing.Id as string);
      return this.updateStatus === 204 ? { status: 204 } : { status: 200, body: { id: existing.Id, success: true, errors: [], created: false } };
    }
    const id = fakeSalesforceId(KEY_PREFIX[type]);
    const record: SObjectRecord = { Id: id, ...(body as SObjectRecord), [EXTERNAL_ID_FIELD]: value, CreatedDate: at, LastModifiedDate: at, SystemModstamp: at };
    this.derive(type, record);
    this.store(type)[id] = record;
    this.notify(type, id);
    return { status: 201, body: { id, success: true, errors: [], created: true } };
  }

  /** Result sets of queries, by locator, for nextRecordsUrl paging. */
  private readonly results = new Map<string, Record<string, unknown>[]>();
  /** Rows per page (Salesforce's default batch is 2,000). */
  queryBatchSize = 2_000;

  /**
   * The SOQL a poller sends (the subset `soql.ts` parses):
   * `SELECT <fields> FROM Account|Opportunity [WHERE <conditions on SystemModstamp and Id, AND, OR,
   * parentheses>] [ORDER BY SystemModstamp|Id [ASC|DESC], ...] [LIMIT n]`. Anything else is
   * MALFORMED_QUERY, an unknown field INVALID_FIELD, as Salesforce answers them.
   */
  private query(soql: string): Reply {
    let parsed: SoqlQuery;
    try {
      parsed = parseSoql(soql);
    } catch (err) {
      return sfErrors(400, err instanceof SoqlError ? err.code : 'MALFORMED_QUERY', (err as Error).message);
    }
    const type = parsed.from as SObjectType;
    if (!QUERYABLE[type]) return sfErrors(400, 'INVALID_TYPE', `sObject type '${parsed.from}' is not supported.`);
    for (const f of [...parsed.fields, ...parsed.orderBy.map((o) => o.field)]) {
      if (!QUERYABLE[type].includes(f)) return sfErrors(400, 'INVALID_FIELD', `No such column '${f}' on entity '${type}'.`);
    }
    const rows = Object.values(this.store(type))
      .filter((r) => parsed.where === null || parsed.where(r))
      .sort((a, b) => {
        for (const o of parsed.orderBy) {
          const c = compareValues(a[o.field], b[o.field], o.field);
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      })
      .slice(0, parsed.limit ?? undefined)
      .map((r) => this.rendered(type, r, parsed.fields));
    const locator = `01g${randomBytes(8).toString('hex')}`;
    this.results.set(locator, rows);
    // Salesforce keeps a user's open query cursors for a while, and drops the oldest past a limit.
    for (const key of this.results.keys()) {
      if (this.results.size <= 50) break;
      this.results.delete(key);
    }
    return this.queryPage(locator, 0);
  }

  /** `GET /sobjects/<Object>/deleted/?start=&end=`: the delete log between two times (seconds ignored). */
  private getDeleted(type: string, startText: string | null, endText: string | null): Reply {
    if (type !== 'Account' && type !== 'Opportunity') return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
    const minute = (ms: number) => Math.floor(ms / 60_000) * 60_000;
    const start = Date.parse(startText ?? '');
    const end = Date.parse(endText ?? '');
    if (!Number.isFinite(start) || !Number.isFinite(end)) return sfErrors(400, 'MALFORMED_QUERY', 'start and end must be dateTime values');
    const [from, to] = [minute(start), minute(end)];
    if (to <= from) return sfErrors(400, 'INVALID_REPLICATION_DATE', 'endDate must be chronologically after startDate');
    const now = Date.now();
    if (from < now - DELETED_KEPT_MS) return sfErrors(400, 'INVALID_REPLICATION_DATE', 'startDate cannot be more than 15 days ago');
    const deletedRecords = this.s.deleted[type].filter((d) => Date.parse(d.deletedDate) >= from && Date.parse(d.deletedDate) < to).map((d) => ({ id: d.id, deletedDate: restTime(d.deletedDate) }));
    const earliest = this.deleteLogStart ?? now - DELETED_KEPT_MS;
    return {
      status: 200,
      body: {
        deletedRecords,
        earliestDateAvailable: restTime(new Date(minute(earliest)).toISOString()),
        latestDateCovered: restTime(new Date(Math.min(to, minute(now))).toISOString()),
      },
    };
  }

  private queryPage(locator: string, offset: number): Reply {
    this.s.queries++;
    if (this.expireAtQuery !== null && this.s.queries >= this.expireAtQuery) {
      this.expireAtQuery = null;
      this.expireSessions();
    }
    const rows = this.results.get(locator);
    if (!rows) return sfErrors(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    const page = rows.slice(offset, offset + this.queryBatchSize);
    const done = offset + page.length >= rows.length;
    if (done) this.results.delete(locator);
    return {
      status: 200,
      body: { totalSize: rows.length, done, records: page, ...(done ? {} : { nextRecordsUrl: `/services/data/v62.0/query/${locator}-${offset + page.length}` }) },
    };
  }

  /** A change queues a notification; the record's fields are read when the message goes (as Salesforce does). */
  private notify(type: SObjectType, recordId: string): void {
    if (!this.webhook) return;
    this.queued.push({ id: fakeSalesforceId('04l'), type, recordId });
    if (!this.flushing) {
      this.flushing = true;
      this.outboundInFlight++;
      setImmediate(() => {
        this.outboundInFlight--;
        void this.flush();
      });
    }
  }

  private async flush(): Promise<void> {
    this.flushing = false;
    const queued = this.queued.splice(0);
    if (this.outboundFaults.shuffle) queued.sort(() => Math.random() - 0.5);
    const groups: Array<typeof queued> = [];
    for (const type of ['Account', 'Opportunity'] as const) {
      const ofType = queued.filter((q) => q.type === type);
      const size = this.outboundFaults.shuffle ? 1 + Math.floor(Math.random() * 5) : 100;
      for (let i = 0; i < ofType.length; i += size) groups.push(ofType.slice(i, i + size));
    }
    if (this.outboundFaults.shuffle) groups.sort(() => Math.random() - 0.5);
    await Promise.all(groups.map((group) => this.deliver(group, 0)));
  }

  /** Outbound Messages waiting (retries, duplicates) or under way: 0 when the fake has nothing more to send. */
  outboundInFlight = 0;

  private later(ms: number, send: () => Promise<void>): void {
    this.outboundInFlight++;
    setTimeout(() => {
      this.outboundInFlight--;
      void send();
    }, ms).unref();
  }

  private async deliver(group: Array<{ id: string; type: SObjectType; recordId: string }>, attempt: number): Promise<void> {
    this.outboundInFlight++;
    try {
      await this.deliverOnce(group, attempt);
    } finally {
      this.outboundInFlight--;
    }
  }

  private async deliverOnce(group: Array<{ id: string; type: SObjectType; recordId: string }>, attempt: number): Promise<void> {
    const url = this.webhook;
    if (!url || group.length === 0) return;
    const notifications: OutboundNotification[] = group.map((q) => {
      const record = this.store(q.type)[q.recordId] ?? { Id: q.recordId };
      const fields = Object.fromEntries(OUTBOUND_FIELDS[q.type].map((f) => [f, record[f] === undefined || record[f] === null ? null : String(record[f])]));
      return { id: q.id, sObjectType: q.type, fields };
    });
    const body = outboundMessageXml({ organizationId: this.organizationId, actionId: '04k000000000001AAA', notifications });
    const delivery: OutboundDelivery = { notificationIds: group.map((q) => q.id), sObjectType: group[0].type, status: 0, acked: false };
    this.deliveries.push(delivery);
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""', 'user-agent': 'Jakarta Commons-HttpClient/3.1' }, body });
      delivery.status = res.status;
      delivery.acked = res.status === 200 && /<Ack>true<\/Ack>/.test(await res.text());
    } catch {
      delivery.status = 0;
    }
    if (!delivery.acked) {
      // Salesforce backs off from 15 s up to 2 h over 24 h; the sandbox compresses that.
      if (attempt < 8) this.later(100 * 2 ** attempt, () => this.deliver(group, attempt + 1));
      return;
    }
    if (Math.random() < this.outboundFaults.duplicateRate) this.later(50, () => this.deliver(group, attempt));
  }
}
