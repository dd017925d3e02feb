import { createHash } from 'node:crypto';
import { maskBody } from '../../observability/masking.js';
import { providerTokenRequests } from '../../observability/metrics.js';
import { ProviderError, type CallContext, type HttpExchange } from '../connector.js';
import { classifyStatus, parseRetryAfter, send, type HttpResponse } from '../http.js';

/**
 * The Salesforce REST API client the connector uses, and that a poller can use as it is: every
 * function takes the engine's CallContext (base URL, credentials, time limit, rate limit, abort
 * signal) and appends its HTTP exchanges to the caller's log. Plain HTTP through the gateway's
 * one outbound policy (src/providers/http.ts), not jsforce: the engine owns timeouts, retries
 * and the shared rate limit, and a client library with its own would hide them (the reason
 * HubSpot and Stripe are called the same way).
 */

/** The API version the mappings are written against (Winter '25; Salesforce keeps versions for years). */
export const SALESFORCE_API_VERSION = 'v62.0';
export const DATA_PATH = `/services/data/${SALESFORCE_API_VERSION}`;

/** The external id field the gateway upserts by, on Account and Opportunity (docs/integrations/salesforce.md). */
export const EXTERNAL_ID_FIELD = 'Switchboard_Id__c';

/**
 * Past this share of the org's rolling 24-hour API allocation (Sforce-Limit-Info), calls are spaced
 * at the allocation's sustainable pace (allowed / 24 h), so what is left is not spent in a burst.
 */
export const USAGE_SLOWDOWN_AT = 0.9;
/**
 * REQUEST_LIMIT_EXCEEDED on the 24-hour total: how long the integration's calls wait (all workers).
 * The allocation is rolling, so capacity comes back gradually; a minute keeps each look cheap.
 */
export const REQUEST_LIMIT_HOLD_MS = 60_000;
/** REQUEST_LIMIT_EXCEEDED for too many long-running requests at once: they end within seconds. */
export const CONCURRENT_LIMIT_HOLD_MS = 5_000;

/**
 * Tells Salesforce which client made a change: Change Data Capture reports it as `changeOrigin`
 * (`client=switchboard`), so a listener can tell the gateway's own writes from users'.
 */
const CALL_OPTIONS = 'client=switchboard';

interface Session {
  token: string | null;
  /** The token request in flight: every call that needs a token meanwhile waits for this one. */
  pending: Promise<string> | null;
}

/**
 * Access tokens by org and connected app (base URL, client id and a digest of the secret): one
 * per set of credentials in this process, shared by every job of the integrations that use it.
 * A rotated secret is a new key, so it never uses a token issued for the old one.
 */
const sessions = new Map<string, Session>();
const MAX_SESSIONS = 10_000;

function sessionOf(ctx: CallContext): Session {
  const key = createHash('sha256').update(`${ctx.baseUrl}\n${String(ctx.credentials.clientId)}\n${String(ctx.credentials.clientSecret)}`).digest('base64url');
  let session = sessions.get(key);
  if (!session) {
    if (sessions.size >= MAX_SESSIONS) sessions.clear();
    sessions.set(key, (session = { token: null, pending: null }));
  }
  return session;
}

/**
 * OAuth 2.0 client credentials against the org's My Domain (`POST /services/oauth2/token`). The
 * answer carries no expiry: a token is used until Salesforce answers INVALID_SESSION_ID. Its
 * `instance_url` is not followed: calls keep going to the base URL the operator configured (a My
 * Domain URL routes to the org's instance), so the token never goes to a host nobody checked.
 */
async function requestToken(ctx: CallContext, reason: 'first' | 'expired', log: HttpExchange[]): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: String(ctx.credentials.clientId), client_secret: String(ctx.credentials.clientSecret) });
  try {
    // Not paced: one per session is too few to matter to the rate, and a renewal must not wait behind the calls that need it.
    const res = await send(
      { ...ctx, pace: undefined },
      {
        method: 'POST',
        path: '/services/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        maskedRequest: { grant_type: 'client_credentials', client_id: '[MASKED]', client_secret: '[MASKED]' },
      },
    );
    res.exchange.response = maskBody(res.body);
    log.push(res.exchange);
    const body = (res.body ?? {}) as { access_token?: unknown; error?: string; error_description?: string };
    if (res.status === 200 && typeof body.access_token === 'string' && body.access_token.length > 0) {
      providerTokenRequests.inc({ provider: 'SALESFORCE', reason, outcome: 'success' });
      return body.access_token;
    }
    const message = `Salesforce token request ${res.status}${body.error ? ` ${body.error}` : ''}: ${body.error_description ?? 'no access_token in the answer'}`;
    // invalid_client, invalid_grant (no run-as user for the client credentials flow), unsupported_grant_type: only an operator can fix them.
    if (res.status === 400 || res.status === 401 || res.status === 403) throw new ProviderError('auth', message, false, res.status, null, log);
    throw res.status >= 200 && res.status < 300 ? new ProviderError('server', message, true, res.status, null, log) : classifyStatus(res.status, message, parseRetryAfter(res.headers.get('retry-after')), log);
  } catch (err) {
    providerTokenRequests.inc({ provider: 'SALESFORCE', reason, outcome: 'failed' });
    throw err;
  }
}

/**
 * A token for these credentials: the cached one; or, when there is none or `stale` is the one
 * Salesforce just refused, a new one. Concurrent callers share one request, and a caller whose
 * refused token was already replaced takes the replacement without asking again.
 */
function token(ctx: CallContext, log: HttpExchange[], stale: string | null = null): Promise<string> {
  const session = sessionOf(ctx);
  if (session.token !== null && session.token !== stale) return Promise.resolve(session.token);
  if (!session.pending) {
    const reason = stale === null ? 'first' : 'expired';
    session.token = null;
    const pending = requestToken(ctx, reason, log).then((issued) => {
      session.token = issued;
      return issued;
    });
    session.pending = pending;
    const settled = () => {
      if (session.pending === pending) session.pending = null;
    };
    pending.then(settled, settled);
  }
  return session.pending;
}

/** Salesforce's error array (`[{ errorCode, message, fields }]`), or a single object some endpoints send. */
function errorsOf(body: unknown): Array<{ errorCode?: string; message?: string; fields?: string[] }> {
  if (Array.isArray(body)) return body.filter((e) => typeof e === 'object' && e !== null) as Array<{ errorCode?: string; message?: string; fields?: string[] }>;
  if (body && typeof body === 'object' && 'errorCode' in body) return [body as { errorCode?: string; message?: string }];
  return [];
}

export function errorCodeOf(res: HttpResponse): string | null {
  return errorsOf(res.body)[0]?.errorCode ?? null;
}

/**
 * The shares of the org's (and the connected app's) rolling 24-hour allocation in use, from
 * `Sforce-Limit-Info: api-usage=25/5000; per-app-api-usage=17/250(appName=...)`.
 */
export function apiUsage(header: string | null): Array<{ used: number; allowed: number }> {
  if (!header) return [];
  const out: Array<{ used: number; allowed: number }> = [];
  for (const m of header.matchAll(/(?:^|[;\s])(?:per-app-)?api-usage=(\d+)\/(\d+)/g)) {
    const used = Number(m[1]);
    const allowed = Number(m[2]);
    if (allowed > 0) out.push({ used, allowed });
  }
  return out;
}

/** How long the next call must wait so the rest of the allocation lasts, or 0 below USAGE_SLOWDOWN_AT. */
export function usageHoldMs(header: string | null): number {
  let hold = 0;
  for (const { used, allowed } of apiUsage(header)) {
    if (used / allowed >= USAGE_SLOWDOWN_AT) hold = Math.max(hold, Math.ceil(86_400_000 / allowed));
  }
  return hold;
}

/** A hold that cannot be recorded costs pacing, never the call's own result. */
async function holdOff(ctx: CallContext, ms: number): Promise<void> {
  if (ms > 0) await ctx.holdOff?.(ms).catch(() => undefined);
}

/** A failed Salesforce answer, with its error code and the fields it names (Salesforce's error array). */
export class SalesforceError extends ProviderError {
  constructor(
    base: ProviderError,
    readonly errorCode: string | null,
    readonly fields: readonly string[],
  ) {
    super(base.kind, base.message, base.retryable, base.httpStatus, base.retryAfterMs, base.exchanges);
    this.name = 'SalesforceError';
  }
}

/**
 * A failed answer, classified by Salesforce's own signals: REQUEST_LIMIT_EXCEEDED (403) is a rate
 * limit, retried after the hold; UNABLE_TO_LOCK_ROW (another transaction holds the record) passes;
 * 300 (several records carry the external id) needs someone to merge them; other 4xx are final.
 */
export function salesforceError(res: HttpResponse, log: HttpExchange[]): SalesforceError {
  const first = errorsOf(res.body)[0];
  return new SalesforceError(classify(res, log), first?.errorCode ?? null, Array.isArray(first?.fields) ? first.fields.map(String) : []);
}

function classify(res: HttpResponse, log: HttpExchange[]): ProviderError {
  const errors = errorsOf(res.body);
  const first = errors[0] ?? {};
  const code = first.errorCode ?? (res.status === 300 ? 'MULTIPLE_CHOICES' : 'error');
  const fields = first.fields?.length ? ` (fields: ${first.fields.join(', ')})` : '';
  const message = `Salesforce ${res.status} ${code}: ${first.message ?? 'no message'}${fields}`;
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    const hold = /concurrent/i.test(first.message ?? '') ? CONCURRENT_LIMIT_HOLD_MS : REQUEST_LIMIT_HOLD_MS;
    return new ProviderError('rate_limited', message, true, res.status, hold, log);
  }
  if (res.status === 300) {
    const matches = Array.isArray(res.body) ? res.body.length : 0;
    return new ProviderError('client', `Salesforce 300: ${matches || 'several'} records carry this external id; merge them in Salesforce, then replay the job`, false, 300, null, log);
  }
  if (code === 'UNABLE_TO_LOCK_ROW') return new ProviderError('server', message, true, res.status, null, log);
  return classifyStatus(res.status, message, parseRetryAfter(res.headers.get('retry-after')), log);
}

export interface SalesforceRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** From the host on: `/services/data/v62.0/...`. */
  path: string;
  body?: unknown;
}

/**
 * One REST call with the cached token. On `401 INVALID_SESSION_ID` (the session ended: Salesforce
 * gives tokens no expiry) the token is replaced, shared with every concurrent call that met the
 * same expiry, and the call is sent once more, inside the same attempt. Every answer's
 * Sforce-Limit-Info, and a REQUEST_LIMIT_EXCEEDED, move the integration's shared rate limit.
 * Returns the answer, whatever its status; salesforceError classifies a failed one.
 */
export async function salesforceCall(ctx: CallContext, request: SalesforceRequest, log: HttpExchange[]): Promise<HttpResponse> {
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const call = async (accessToken: string) => {
    const res = await send(ctx, {
      method: request.method,
      path: request.path,
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        'sforce-call-options': CALL_OPTIONS,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body,
      maskedRequest: request.body === undefined ? null : maskBody(request.body),
    });
    res.exchange.response = maskBody(res.body);
    log.push(res.exchange);
    return res;
  };
  const first = await token(ctx, log);
  let res = await call(first);
  if (res.status === 401 && errorCodeOf(res) === 'INVALID_SESSION_ID') {
    res = await call(await token(ctx, log, first));
    if (res.status === 401) {
      throw new ProviderError('auth', `Salesforce refused a token it had just issued (${errorCodeOf(res) ?? '401'}): check that the connected app's run-as user is active and has API access`, false, 401, null, log);
    }
  }
  await holdOff(ctx, usageHoldMs(res.headers.get('sforce-limit-info')));
  if (errorCodeOf(res) === 'REQUEST_LIMIT_EXCEEDED') {
    const first = errorsOf(res.body)[0];
    await holdOff(ctx, /concurrent/i.test(first?.message ?? '') ? CONCURRENT_LIMIT_HOLD_MS : REQUEST_LIMIT_HOLD_MS);
  }
  return res;
}

const sobjectPath = (sObject: string, field: string, value: string) =>
  `${DATA_PATH}/sobjects/${encodeURIComponent(sObject)}/${encodeURIComponent(field)}/${encodeURIComponent(value)}`;

/**
 * Upsert by external id: `PATCH /sobjects/<Object>/<Field>/<value>`. 201 created (with the id);
 * an update answers 200 with the id in recent API versions and 204 without a body in older ones
 * (id null then); 300 when several records carry the value (final, see salesforceError).
 */
export async function upsertByExternalId(
  ctx: CallContext,
  sObject: string,
  field: string,
  value: string,
  record: Record<string, unknown>,
  log: HttpExchange[],
): Promise<{ id: string | null; created: boolean }> {
  const res = await salesforceCall(ctx, { method: 'PATCH', path: sobjectPath(sObject, field, value), body: record }, log);
  if (res.status === 201 || res.status === 200) {
    const result = (res.body ?? {}) as { id?: unknown; created?: unknown; success?: unknown };
    return { id: typeof result.id === 'string' ? result.id : null, created: res.status === 201 || result.created === true };
  }
  if (res.status === 204) return { id: null, created: false };
  throw salesforceError(res, log);
}

/** A record by external id (`GET /sobjects/<Object>/<Field>/<value>?fields=...`), or null when none has it. */
export async function readByExternalId(
  ctx: CallContext,
  sObject: string,
  field: string,
  value: string,
  fields: string[],
  log: HttpExchange[],
): Promise<Record<string, unknown> | null> {
  const res = await salesforceCall(ctx, { method: 'GET', path: `${sobjectPath(sObject, field, value)}?fields=${fields.map(encodeURIComponent).join(',')}` }, log);
  if (res.status === 404) return null;
  if (res.status === 200) return res.body as Record<string, unknown>;
  throw salesforceError(res, log);
}

/** One page of a SOQL query. */
export interface QueryPage<T = Record<string, unknown>> {
  totalSize: number;
  done: boolean;
  records: T[];
  /** The next page (`/services/data/vXX.X/query/01g...-2000`), while `done` is false. */
  nextRecordsUrl: string | null;
}

function queryPage<T>(res: HttpResponse, log: HttpExchange[]): QueryPage<T> {
  if (res.status !== 200) throw salesforceError(res, log);
  const body = (res.body ?? {}) as { totalSize?: number; done?: boolean; records?: T[]; nextRecordsUrl?: string };
  if (!Array.isArray(body.records)) throw new ProviderError('server', 'Salesforce answered a query without records', true, 200, null, log);
  return { totalSize: Number(body.totalSize ?? body.records.length), done: body.done !== false, records: body.records, nextRecordsUrl: body.done === false ? (body.nextRecordsUrl ?? null) : null };
}

/** A SOQL query's first page (`GET /query?q=`), for pollers: the rest through queryMore. */
export async function query<T = Record<string, unknown>>(ctx: CallContext, soql: string, log: HttpExchange[]): Promise<QueryPage<T>> {
  return queryPage<T>(await salesforceCall(ctx, { method: 'GET', path: `${DATA_PATH}/query?q=${encodeURIComponent(soql)}` }, log), log);
}

/** The page a previous one's `nextRecordsUrl` names (a path on the same org, never another host). */
export async function queryMore<T = Record<string, unknown>>(ctx: CallContext, nextRecordsUrl: string, log: HttpExchange[]): Promise<QueryPage<T>> {
  if (!/^\/services\/data\/v\d+\.\d\/query\/[\w-]+$/.test(nextRecordsUrl)) {
    throw new ProviderError('server', 'Salesforce answered a nextRecordsUrl that is not a query locator path', false, 200, null, log);
  }
  return queryPage<T>(await salesforceCall(ctx, { method: 'GET', path: nextRecordsUrl }, log), log);
}

/** SOQL string literal: backslash and quote escaped (https://developer.salesforce.com/docs: "Quoted String Escape Sequences"). */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A `getDeleted` answer: the records deleted in the window, and how far the delete log is complete. */
export interface DeletedAnswer {
  deletedRecords: Array<{ id: string; deletedDate: string }>;
  /** The oldest deletion the log still holds (older ones were purged): a window starting before it may have lost some. */
  earliestDateAvailable: string | null;
  /** Deletions up to this time are all in the answer; the next window starts here. */
  latestDateCovered: string | null;
}

/**
 * The records of `sObject` deleted between `start` and `end` (`GET /sobjects/<Object>/deleted/`,
 * the replication resource; Salesforce ignores the seconds of both, and keeps 15 days).
 */
export async function getDeleted(ctx: CallContext, sObject: string, start: Date, end: Date, log: HttpExchange[]): Promise<DeletedAnswer> {
  const iso = (d: Date) => encodeURIComponent(`${d.toISOString().slice(0, 19)}Z`);
  const res = await salesforceCall(ctx, { method: 'GET', path: `${DATA_PATH}/sobjects/${encodeURIComponent(sObject)}/deleted/?start=${iso(start)}&end=${iso(end)}` }, log);
  if (res.status !== 200) throw salesforceError(res, log);
  const body = (res.body ?? {}) as Partial<DeletedAnswer>;
  if (!Array.isArray(body.deletedRecords)) throw new ProviderError('server', 'Salesforce answered getDeleted without deletedRecords', true, 200, null, log);
  return { deletedRecords: body.deletedRecords, earliestDateAvailable: body.earliestDateAvailable ?? null, latestDateCovered: body.latestDateCovered ?? null };
}
