import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Integration } from '../domain/integration/integration.entity.js';
import { isUuid, newId } from '../domain/shared/ids.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import type { EventBus } from '../jobs/job-events.js';
import { logService } from '../jobs/log-row.js';
import type { IntegrationService } from '../domain/integration/integration.service.js';
import { correlationIdFrom } from '../observability/context.js';
import { httpRequestDuration, httpRequests, webhookDuplicates, webhookRejected, webhookRequests } from '../observability/metrics.js';
import type { EventWriter, IngressLog } from './event-writer.js';
import { PayloadError, type ParsedEvent } from './parse.js';
import { PROVIDERS } from '../providers/registry.js';
import { deadlineIn, msLeft, withinDeadline } from '../db/deadline.js';
import { isDatabaseUnavailable } from '../db/db-errors.js';
import { RETRY_AFTER_SECONDS } from '../domain/shared/errors.js';
import { SignatureError, type RejectReason } from './signatures.js';


interface CachedIntegration {
  integration: Integration;
  secrets: string[];
  expires: number;
}

/**
 * Integrations and their decrypted webhook secrets for one second: a burst of events costs one
 * lookup, and a rotation or pause is seen within a second (the old secret verifies for a grace
 * window anyway).
 */
export class IntegrationCache {
  private readonly entries = new Map<string, CachedIntegration | Promise<CachedIntegration | null>>();

  constructor(
    private readonly integrations: IntegrationService,
    private readonly ttlMs = 1_000,
  ) {}

  /** A change committed elsewhere (secret rotation, pause): the next request loads it again. */
  forget(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  /** Bumped by every forget: a load that overlapped one is used once, never kept. */
  private generation = 0;

  /**
   * The integration, within the calling request's `deadline`: a lookup is shared by the requests
   * that arrive while it runs, and goes on (within its statement's own limit) for the others
   * when one of them gives up.
   */
  async get(id: string, deadline = deadlineIn(5_000)): Promise<CachedIntegration | null> {
    const hit = this.entries.get(id);
    if (hit && !(hit instanceof Promise) && hit.expires > Date.now()) return hit;
    try {
      return await withinDeadline(hit instanceof Promise ? hit : this.load(id), deadline);
    } catch (err) {
      // A lookup started earlier failed for want of a database (it started during a stall, say):
      // this request, with time left, looks again rather than fail with it.
      if (hit instanceof Promise && isDatabaseUnavailable(err) && msLeft(deadline) > 0) return withinDeadline(this.load(id), deadline);
      throw err;
    }
  }

  private load(id: string): Promise<CachedIntegration | null> {
    const pending = this.entries.get(id);
    if (pending instanceof Promise) return pending;
    const generation = this.generation;
    const load = this.integrations.findByIds([id]).then(([integration]) => {
      if (!integration) {
        this.entries.delete(id);
        return null;
      }
      const entry = { integration, secrets: this.integrations.webhookSecretsOf(integration), expires: Date.now() + this.ttlMs };
      if (generation === this.generation) this.entries.set(id, entry);
      else this.entries.delete(id);
      return entry;
    });
    this.entries.set(id, load);
    if (this.entries.size > 10_000) this.entries.clear();
    load.catch(() => {
      if (this.entries.get(id) === load) this.entries.delete(id);
    });
    return load;
  }
}

/** How often an integration's rejected requests leave a log row: at most one per window. */
export const REJECTION_SAMPLE_MS = 60_000;

/**
 * Rejected requests (bad signature, unparseable body) cost no write each: they are counted in
 * metrics, and per integration at most one sampled FAILED log row is kept per
 * REJECTION_SAMPLE_MS, carrying how many were rejected since the previous one. The row is
 * written on its own, outside the group commit that stores genuine events, so a flood of
 * unsigned requests neither fills the database nor delays real events. (The window is per API
 * process: N processes keep at most N rows a window.)
 */
export class RejectionSampler {
  private readonly windows = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly windowMs = REJECTION_SAMPLE_MS, private readonly now: () => number = Date.now) {}

  /** The number of rejections this row stands for, or null when this one is only counted. */
  sample(integrationId: string): number | null {
    const now = this.now();
    const window = this.windows.get(integrationId);
    if (window && window.until > now) {
      window.suppressed++;
      return null;
    }
    if (this.windows.size > 10_000) this.windows.clear();
    this.windows.set(integrationId, { until: now + this.windowMs, suppressed: 0 });
    return 1 + (window?.suppressed ?? 0);
  }
}

export interface IngressDeps {
  cache: IntegrationCache;
  /** Keeps the sampled rejection rows (see RejectionSampler); never awaited by the answer. */
  recordRejection: (log: IntegrationLog) => Promise<void>;
  rejections: RejectionSampler;
  writer: EventWriter;
  /** Each request's log row is published (integrationLogAdded) once its commit is done. */
  events: EventBus;
  log: Logger;
  /** The gateway's public base URL (HubSpot signs the full URL it called). */
  publicUrl: () => string;
  /** A request's database budget (DB_REQUEST_TIMEOUT_MS): past it, 503 with Retry-After. */
  requestTimeoutMs: number;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;
const ROUTE = /^\/webhooks\/([^/?#]+)\/?(?:\?.*)?$/;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** Sent instead of `body` as JSON, where the provider needs its own acknowledgement (ProviderModule.acknowledge). */
  raw?: { contentType: string; body: string };
}

interface InboundRequest {
  integrationId: string;
  method: string;
  /** The path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  correlationId: string;
  started: bigint;
}

/**
 * One webhook request, transport aside: verify, parse, store (group commit), answer. See the
 * contract's table: 401 bad signature, 400 unparseable, 404 unknown integration, 2xx only once
 * the event is committed.
 */
async function receive(deps: IngressDeps, req: InboundRequest): Promise<Answer> {
  // Every database step of the request (integration lookup, commit) shares one deadline.
  const deadline = deadlineIn(deps.requestTimeoutMs);
  const cached = isUuid(req.integrationId) ? await deps.cache.get(req.integrationId.toLowerCase(), deadline) : null;
  if (!cached) return { status: 404, body: { error: 'not_found', message: 'No integration has this webhook URL' } };
  const { integration, secrets } = cached;
  const elapsed = () => Math.round(Number(process.hrtime.bigint() - req.started) / 1e6);
  const labels = { integration: integration.id, provider: integration.provider };
  const logBase = { integrationId: integration.id, service: logService(integration.provider), correlationId: req.correlationId };
  const write = async (events: ParsedEvent[], fields: Omit<IngressLog, 'id'>) => {
    const log = { ...fields, id: newId() };
    const ids = await deps.writer.write({ integrationId: integration.id, provider: integration.provider, correlationId: req.correlationId, events, log }, deadline);
    deps.events.publish('log.added', publishedLog(log, ids[0] ?? null));
    return ids;
  };

  const reject = async (status: 400 | 401, reason: RejectReason | 'bad_payload', message: string): Promise<Answer> => {
    webhookRequests.inc({ ...labels, outcome: 'rejected' });
    webhookRejected.inc({ ...labels, reason });
    const count = deps.rejections.sample(integration.id);
    if (count !== null) {
      const log = publishedLog(
        {
          ...logBase,
          id: newId(),
          eventType: 'webhook.rejected',
          status: 'FAILED',
          errorMsg: count > 1 ? `${message} (and ${count - 1} more rejected requests since the last record)` : message,
          httpStatus: status,
          durationMs: elapsed(),
          request: { reason, bytes: req.body.length, contentType: req.headers['content-type'] ?? null, rejected: count },
        },
        null,
      );
      // At most one write a window per integration, so the answer may wait for it: the row is
      // there when the 401 is. A failure to write it does not change the answer.
      await deps.recordRejection(log).then(
        () => deps.events.publish('log.added', log),
        (err: unknown) => deps.log.warn({ err, integrationId: integration.id }, 'could not record a sampled webhook rejection'),
      );
    }
    return { status, body: { error: status === 401 ? 'invalid_signature' : 'bad_request', reason, message } };
  };

  let verified;
  try {
    // Each provider's own scheme (registry); a provider without one fails closed.
    const verify = PROVIDERS[integration.provider]?.verify;
    if (!verify) throw new SignatureError('bad_signature', `No signature scheme is known for ${integration.provider}`);
    verified = verify({ method: req.method, url: deps.publicUrl() + req.url, headers: req.headers, body: req.body }, secrets, Date.now());
  } catch (err) {
    if (err instanceof SignatureError) return reject(401, err.reason, err.message);
    throw err;
  }
  let events: ParsedEvent[];
  try {
    events = PROVIDERS[integration.provider].parse(req.body, verified);
  } catch (err) {
    if (err instanceof PayloadError) return reject(400, 'bad_payload', err.message);
    throw err;
  }
  const ids = await write(events, {
    ...logBase,
    eventType: events.length === 1 ? events[0].eventType : `batch(${events.length})`,
    status: 'SUCCESS',
    errorMsg: null,
    httpStatus: 200,
    durationMs: elapsed(),
    request: { events: events.slice(0, 20).map((e) => ({ id: e.externalEventId, type: e.eventType })), count: events.length },
  });
  const duplicates = ids.filter((x) => x === null).length;
  webhookRequests.inc({ ...labels, outcome: duplicates === ids.length ? 'duplicate' : 'accepted' });
  if (duplicates) webhookDuplicates.inc(labels, duplicates);
  // Salesforce stops redelivering only on its SOAP Ack, sent (like every 2xx) after the commit.
  const raw = PROVIDERS[integration.provider].acknowledge?.();
  return { status: 200, body: { received: true, duplicate: duplicates === ids.length, events: ids.length, duplicates }, ...(raw ? { raw } : {}) };
}

/** The row the group commit wrote for a request; it points at the request's first event only when that was new. */
function publishedLog(log: IngressLog, webhookEventId: string | null): IntegrationLog {
  return Object.assign(new IntegrationLog(), {
    id: log.id,
    service: log.service,
    eventType: log.eventType,
    direction: Direction.INBOUND,
    status: log.status === 'SUCCESS' ? LogStatus.SUCCESS : LogStatus.FAILED,
    timestamp: new Date(),
    errorMsg: log.errorMsg,
    correlationId: log.correlationId,
    integrationId: log.integrationId,
    jobId: null,
    webhookEventId,
    httpStatus: log.httpStatus,
    durationMs: log.durationMs,
    attempt: null,
    request: log.request,
    response: null,
  });
}

function reply(res: ServerResponse, answer: Answer, correlationId: string, started: bigint, close = false): void {
  const json = answer.raw?.body ?? JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': answer.raw?.contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'x-correlation-id': correlationId,
    ...(answer.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {}),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(json);
  httpRequests.inc({ route: '/webhooks/:integrationId', operation: '', status: String(answer.status) });
  httpRequestDuration.observe({ route: '/webhooks/:integrationId', operation: '' }, Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * `POST /webhooks/:integrationId` straight on the HTTP server, ahead of Express: the hottest
 * route reads its raw bytes itself (1 MiB cap, 413 beyond) and skips the middleware stack.
 * Returns false for any other request, which Express then serves.
 */
export function webhookRoute(deps: IngressDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const match = req.method === 'POST' ? ROUTE.exec(req.url ?? '') : null;
    if (!match) return false;
    const started = process.hrtime.bigint();
    const correlationId = correlationIdFrom(req.headers['x-correlation-id']);
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => {
      reply(res, { status: 413, body: { error: 'payload_too_large', message: 'The request body is over the 1mb limit' } }, correlationId, started, true);
      req.resume();
    };
    if (declared > BODY_LIMIT_BYTES) {
      tooLarge();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) {
        over = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (over) return;
      const request: InboundRequest = {
        // Integration ids are UUIDs: anything else (escapes included) is a 404, never decoded.
        integrationId: match[1],
        method: 'POST',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks, size),
        correlationId,
        started,
      };
      receive(deps, request).then(
        (answer) => reply(res, answer, correlationId, started),
        (err: unknown) => {
          // Not stored (the database is down, say): no 2xx, so the provider sends it again.
          deps.log.error({ err, correlationId }, 'webhook could not be received');
          reply(res, { status: 503, body: { error: 'unavailable', message: 'The event could not be stored; send it again', correlationId } }, correlationId, started);
        },
      );
    });
    return true;
  };
}
