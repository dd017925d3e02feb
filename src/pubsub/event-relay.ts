import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { Contract } from '../domain/contract/contract.entity.js';
import { Customer } from '../domain/customer/customer.entity.js';
import { Invoice } from '../domain/invoice/invoice.entity.js';
import { IntegrationJob } from '../domain/job/integration-job.entity.js';
import { IntegrationLog } from '../domain/job/integration-log.entity.js';
import { newId } from '../domain/shared/ids.js';
import type { AlertEvent, EventBus, GatewayTopics, SyncRunEvent } from '../jobs/job-events.js';
import { listen, type ListenOptions, type PgListener } from './pg-listener.js';
import { preparedIn } from '../db/prepared.js';

/** The channel every process NOTIFYs its committed changes on, and API processes LISTEN to. */
export const EVENTS_CHANNEL = 'switchboard_events';

/** One statement, NOTIFYs in order: PostgreSQL delivers them in that order. $1 the payloads. */
const NOTIFY_ALL_SQL = `SELECT pg_notify('${EVENTS_CHANNEL}', payload) FROM unnest($1::text[]) WITH ORDINALITY AS p(payload, n) ORDER BY n`;

/** NOTIFY payloads must stay under 8,000 bytes; texts that could grow are cut well below. */
const MAX_TEXT = 1_000;
/** How many delivered envelope ids a process remembers to deliver each at most once. */
const SEEN_MAX = 50_000;
const MAX_ENVELOPE_BYTES = 7_900;

/** What crosses processes: small snapshots, never bodies, credentials or personal data. */
export type RelayTopic = 'job.updated' | 'log.added' | 'customer.updated' | 'invoice.updated' | 'contract.updated' | 'sync.updated' | 'alert.updated';
const RELAY_TOPICS: RelayTopic[] = ['job.updated', 'log.added', 'customer.updated', 'invoice.updated', 'contract.updated', 'sync.updated', 'alert.updated'];

interface Envelope {
  /** Unique per publication: a process delivers each one at most once. */
  i: string;
  t: RelayTopic;
  d: Record<string, unknown>;
}

/**
 * Handed to every open subscription, in place of an event, once each time this process's LISTEN
 * connection is lost or goes silent (the database restarted, stalled or is unreachable): events
 * published meanwhile do not reach it. The subscription stays open and delivers again once the
 * connection is back; the client is told, so it is never starved silently, and re-queries.
 */
export class EventsInterrupted {
  readonly message =
    'Live events are interrupted: this server lost its database connection. The subscription stays open and resumes by itself when the database is back; ' +
    'events in between are not sent again, so re-query what you show once queries succeed again.';
  readonly at = new Date();
}

/** The emitter event that carries EventsInterrupted to every subscription's listener. */
const INTERRUPTED = 'interrupted';

export type Delivered = {
  'job.updated': IntegrationJob;
  'log.added': IntegrationLog;
  /** Canonical changes carry ids only; subscribers load the current record. */
  'customer.updated': { id: string };
  'invoice.updated': { id: string; customerId: string };
  'contract.updated': { id: string; customerId: string };
  /** A sync run's progress: subscribers load the run as it is now. */
  'sync.updated': { id: string; integrationId: string };
  /** An alert fired or resolved: subscribers load it as it is now. */
  'alert.updated': AlertEvent;
};

/**
 * Envelopes (JSON texts, in order) packed into as few NOTIFY payloads as fit: each payload is a
 * JSON array of envelopes under MAX_ENVELOPE_BYTES. A burst (one ingress commit's log rows, a
 * job's transitions) costs PostgreSQL and every listener a few notifications instead of one each.
 */
export function packed(envelopes: string[]): string[] {
  const payloads: string[] = [];
  let current: string[] = [];
  let bytes = 2;
  for (const e of envelopes) {
    const size = Buffer.byteLength(e) + 1;
    if (current.length > 0 && bytes + size > MAX_ENVELOPE_BYTES) {
      payloads.push(`[${current.join(',')}]`);
      current = [];
      bytes = 2;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) payloads.push(`[${current.join(',')}]`);
  return payloads;
}

const cut = (v: string | null | undefined) => (v && v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT)}…` : (v ?? null));
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : null);

function snapshot<K extends RelayTopic>(topic: K, value: GatewayTopics[K]): Record<string, unknown> {
  switch (topic) {
    case 'job.updated': {
      const j = value as IntegrationJob;
      const raw = (j.result as { delivery?: { status?: unknown; at?: unknown; reason?: unknown } } | null)?.delivery;
      const delivery = raw ? { status: raw.status ?? null, at: raw.at ?? null, reason: typeof raw.reason === 'string' ? cut(raw.reason.slice(0, 300)) : null } : null;
      return {
        id: j.id, integrationId: j.integrationId, operation: j.operation, entityType: j.entityType, entityId: j.entityId, status: j.status,
        attempts: j.attempts, maxAttempts: j.maxAttempts, lastError: cut(j.lastError), correlationId: j.correlationId,
        idempotencyKey: j.idempotencyKey, nextAttemptAt: iso(j.nextAttemptAt), createdAt: iso(j.createdAt), updatedAt: iso(j.updatedAt),
        completedAt: iso(j.completedAt), delivery: delivery ?? null, source: j.source ?? 'API', sourceIntegrationId: j.sourceIntegrationId ?? null,
      };
    }
    case 'log.added': {
      const l = value as IntegrationLog;
      return {
        id: l.id, service: l.service, eventType: l.eventType, direction: l.direction, status: l.status, timestamp: iso(l.timestamp),
        errorMsg: cut(l.errorMsg), correlationId: l.correlationId, integrationId: l.integrationId, jobId: l.jobId,
        webhookEventId: l.webhookEventId, httpStatus: l.httpStatus, durationMs: l.durationMs, attempt: l.attempt, errorKind: l.errorKind ?? null,
      };
    }
    case 'customer.updated':
      return { id: (value as Customer).id };
    case 'invoice.updated':
      return { id: (value as Invoice).id, customerId: (value as Invoice).customerId };
    case 'contract.updated':
      return { id: (value as Contract).id, customerId: (value as Contract).customerId };
    case 'sync.updated':
      return { id: (value as SyncRunEvent).id, integrationId: (value as SyncRunEvent).integrationId };
    case 'alert.updated': {
      const a = value as AlertEvent;
      return { id: a.id, ruleId: a.ruleId, integrationId: a.integrationId, status: a.status };
    }
    default:
      throw new Error(`unknown topic ${String(topic)}`);
  }
}

function revive(envelope: Envelope): Delivered[RelayTopic] {
  const d = envelope.d;
  if (envelope.t === 'job.updated') {
    const job = Object.assign(new IntegrationJob(), d, {
      nextAttemptAt: date(d.nextAttemptAt), createdAt: date(d.createdAt), updatedAt: date(d.updatedAt), completedAt: date(d.completedAt),
      result: d.delivery ? { delivery: d.delivery } : null, payload: {},
    });
    delete (job as unknown as Record<string, unknown>).delivery;
    return job;
  }
  if (envelope.t === 'log.added') return Object.assign(new IntegrationLog(), d, { timestamp: date(d.timestamp), request: null, response: null });
  return d as Delivered['customer.updated'];
}

/**
 * Cross-process events over PostgreSQL LISTEN/NOTIFY. Every process forwards what its EventBus
 * publishes (after the commit that made it) as small envelopes, several per NOTIFY statement;
 * processes serving subscriptions LISTEN and deliver each envelope once, in the order each
 * publisher sent them. Local deliveries come back through PostgreSQL too, so every process sees
 * the same stream. While the LISTEN connection is down nothing arrives (clients re-query after
 * their own reconnect; see README, Subscriptions).
 */
export class EventRelay {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  private pending: string[] = [];
  private flushing: Promise<void> | null = null;
  private listener: PgListener | null = null;
  /** Envelope ids delivered lately: the last SEEN_MAX, in a ring (Array.shift on 50,000 ids copied them all each time). */
  private readonly seen = new Set<string>();
  private readonly seenRing: Array<string | undefined> = new Array(SEEN_MAX);
  private seenNext = 0;
  private unsubscribeBus: Array<() => void> = [];

  constructor(
    private readonly db: DataSource,
    private readonly log: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Forward these topics of the in-process bus to every process. */
  forward(bus: EventBus): void {
    for (const topic of RELAY_TOPICS) {
      this.unsubscribeBus.push(bus.subscribe(topic, (value) => (bus.wasSentWithCommit(value) ? undefined : this.publish(topic, value as never))));
    }
    // publishWithCommit: the envelopes go out in the producer's own transaction, packed, in one statement.
    bus.sendWithCommitVia(async (tx, topic, values) => {
      if (!(RELAY_TOPICS as string[]).includes(topic)) return false;
      // One too big for a NOTIFY is left out (already reported), and not worth building again after the commit.
      const envelopes = values.map((value) => this.envelope(topic as RelayTopic, value as never)).filter((e): e is string => e !== null);
      if (envelopes.length > 0) await preparedIn(tx, 'switchboard_notify_all', NOTIFY_ALL_SQL, [packed(envelopes)]);
      return true;
    });
  }

  publish<K extends RelayTopic>(topic: K, value: GatewayTopics[K]): void {
    const envelope = this.envelope(topic, value);
    if (envelope === null) return;
    this.pending.push(envelope);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /** The value's envelope as JSON, or null when even without its free texts it is too big for a NOTIFY. */
  private envelope<K extends RelayTopic>(topic: K, value: GatewayTopics[K]): string | null {
    const d = snapshot(topic, value);
    let envelope = JSON.stringify({ i: newId(), t: topic, d } satisfies Envelope);
    if (Buffer.byteLength(envelope) > MAX_ENVELOPE_BYTES) {
      // Too big for one NOTIFY (it would fail the whole batch): drop the free texts.
      for (const k of ['lastError', 'errorMsg', 'delivery', 'idempotencyKey', 'correlationId']) if (k in d) d[k] = null;
      envelope = JSON.stringify({ i: newId(), t: topic, d } satisfies Envelope);
      if (Buffer.byteLength(envelope) > MAX_ENVELOPE_BYTES) {
        this.log.warn({ topic, bytes: Buffer.byteLength(envelope) }, 'event too large to relay; not delivered to subscribers');
        return null;
      }
    }
    return envelope;
  }

  /** Everything published so far has been handed to PostgreSQL. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = packed(this.pending.splice(0, 1_000));
        await this.db.query(NOTIFY_ALL_SQL, [batch]).catch((err) => {
          this.log.warn({ err, notifications: batch.length }, 'could not publish events to other processes');
        });
      }
    } finally {
      this.flushing = null;
    }
  }

  /**
   * Start delivering what any process publishes (API roles). `onState` follows the LISTEN
   * connection; when it goes down, every open subscription is told once (EventsInterrupted).
   */
  async listen(databaseUrl: string, onState: (up: boolean) => void = () => {}, options: ListenOptions = {}): Promise<void> {
    let wasUp = false;
    this.listener = await listen(
      databaseUrl,
      EVENTS_CHANNEL,
      (payload) => this.receive(payload),
      (up) => {
        if (wasUp && !up && this.subscribers > 0) {
          this.log.warn({ subscriptions: this.subscribers }, 'event relay interrupted: subscriptions are told, and resume when the LISTEN connection is back');
          this.emitter.emit(INTERRUPTED, new EventsInterrupted());
        }
        wasUp = up;
        onState(up);
      },
      this.log,
      options,
    );
  }

  get listening(): boolean {
    return this.listener?.connected ?? false;
  }

  private receive(payload: string): void {
    // No subscriber in this process: nothing to deliver, so nothing to parse (an envelope reaches
    // the subscribers there are when it arrives; the dedup set only guards against repeats).
    if (this.subscribers === 0) return;
    let envelopes: Envelope[];
    try {
      envelopes = JSON.parse(payload) as Envelope[];
    } catch {
      return;
    }
    if (!Array.isArray(envelopes)) return;
    for (const envelope of envelopes) {
      if (this.seen.has(envelope.i)) continue;
      this.seen.add(envelope.i);
      const oldest = this.seenRing[this.seenNext];
      if (oldest !== undefined) this.seen.delete(oldest);
      this.seenRing[this.seenNext] = envelope.i;
      this.seenNext = (this.seenNext + 1) % SEEN_MAX;
      this.emitter.emit(envelope.t, revive(envelope));
    }
  }

  /** `listener` gets the topic's events, and an EventsInterrupted when the LISTEN connection is lost. */
  subscribe<K extends RelayTopic>(topic: K, listener: (value: Delivered[K] | EventsInterrupted) => void): () => void {
    this.emitter.on(topic, listener);
    this.emitter.on(INTERRUPTED, listener);
    this.subscribers++;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.subscribers--;
      this.emitter.off(topic, listener);
      this.emitter.off(INTERRUPTED, listener);
    };
  }

  /** Listeners on any topic (subscribe() calls not yet undone). */
  private subscribers = 0;

  async close(): Promise<void> {
    for (const u of this.unsubscribeBus.splice(0)) u();
    await this.drain();
    await this.listener?.close();
  }
}

