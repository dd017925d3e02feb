import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Integration } from '../domain/integration/integration.entity.js';
import type { IntegrationService } from '../domain/integration/integration.service.js';
import { webhookDuplicates, webhookRejected, webhookRequests } from '../observability/metrics.js';
import type { EventWriter, IngressLog } from './event-writer.js';
import { parseEvents, PayloadError } from './parse.js';
import { SignatureError, verifyWebhook, type RejectReason } from './signatures.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

  async get(id: string): Promise<CachedIntegration | null> {
    const hit = this.entries.get(id);
    if (hit && (hit instanceof Promise || hit.expires > Date.now())) return hit;
    const load = this.integrations.findByIds([id]).then(([integration]) => {
      if (!integration) {
        this.entries.delete(id);
        return null;
      }
      const entry = { integration, secrets: this.integrations.webhookSecretsOf(integration), expires: Date.now() + this.ttlMs };
      this.entries.set(id, entry);
      return entry;
    });
    this.entries.set(id, load);
    if (this.entries.size > 10_000) this.entries.clear();
    return load.catch((err) => {
      this.entries.delete(id);
      throw err;
    });
  }
}

export interface IngressDeps {
  cache: IntegrationCache;
  writer: EventWriter;
  log: Logger;
  /** The gateway's public base URL (HubSpot signs the full URL it called). */
  publicUrl: () => string;
}

/**
 * `POST /webhooks/:integrationId`: verify the raw body, parse it, store it (group commit), then
 * answer. See the contract's table: 401 bad signature, 400 unparseable, 404 unknown integration,
 * 413 over 1 MiB (the body parser), 2xx only once the event is committed.
 */
export function webhookHandler(deps: IngressDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const started = process.hrtime.bigint();
    const correlationId = String(res.locals.correlationId);
    const id = String(req.params.integrationId);
    const cached = UUID.test(id) ? await deps.cache.get(id.toLowerCase()) : null;
    if (!cached) {
      res.status(404).json({ error: 'not_found', message: 'No integration has this webhook URL' });
      return;
    }
    const { integration, secrets } = cached;
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    const labels = { integration: integration.id, provider: integration.provider };
    const logBase = { integrationId: integration.id, service: integration.provider, correlationId };

    const reject = async (status: 400 | 401, reason: RejectReason | 'bad_payload', message: string) => {
      webhookRequests.inc({ ...labels, outcome: 'rejected' });
      webhookRejected.inc({ ...labels, reason });
      const log: IngressLog = {
        ...logBase,
        eventType: 'webhook.rejected',
        status: 'FAILED',
        errorMsg: message,
        httpStatus: status,
        durationMs: elapsed(),
        request: { reason, bytes: body.length, contentType: req.headers['content-type'] ?? null },
      };
      await deps.writer.write({ integrationId: integration.id, provider: integration.provider, correlationId, events: [], log });
      res.status(status).json({ error: status === 401 ? 'invalid_signature' : 'bad_request', reason, message });
    };

    let verified;
    try {
      verified = verifyWebhook(integration.provider, { method: req.method, url: deps.publicUrl() + req.originalUrl, headers: req.headers, body }, secrets);
    } catch (err) {
      if (err instanceof SignatureError) return reject(401, err.reason, err.message);
      throw err;
    }
    let events;
    try {
      events = parseEvents(integration.provider, body, verified);
    } catch (err) {
      if (err instanceof PayloadError) return reject(400, 'bad_payload', err.message);
      throw err;
    }
    const log: IngressLog = {
      ...logBase,
      eventType: events.length === 1 ? events[0].eventType : `batch(${events.length})`,
      status: 'SUCCESS',
      errorMsg: null,
      httpStatus: 200,
      durationMs: elapsed(),
      request: { events: events.slice(0, 20).map((e) => ({ id: e.externalEventId, type: e.eventType })), count: events.length },
    };
    const ids = await deps.writer.write({ integrationId: integration.id, provider: integration.provider, correlationId, events, log });
    const duplicates = ids.filter((x) => x === null).length;
    webhookRequests.inc({ ...labels, outcome: duplicates === ids.length ? 'duplicate' : 'accepted' });
    if (duplicates) webhookDuplicates.inc(labels, duplicates);
    res.status(200).json({ received: true, duplicate: duplicates === ids.length, events: ids.length, duplicates });
  };
}
