import { WebhookPoster } from '../../sandbox/webhook-poster.js';
import { createHash } from 'node:crypto';
import { decodeForm } from './form.js';
import { stripeSignature } from './signature.js';
import { fakeId, type ProviderHandler, type RecordedRequest, type Reply } from '../../sandbox/fake-server.js';

const stripeError = (status: number, type: string, message: string, code?: string): Reply => ({
  status,
  body: { error: { type, message, ...(code ? { code } : {}) } },
  headers: { 'request-id': fakeId('req_') },
});

interface Stored {
  fingerprint: string;
  reply: Reply;
}

/** Where the fake posts its webhooks; `dropRate`: the share of events it never posts (lost webhooks). */
export interface StripeWebhookTarget {
  url: string;
  secret: string;
  dropRate?: number;
}


export interface StripeEvent {
  id: string;
  object: 'event';
  created: number;
  type: string;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  [k: string]: unknown;
}

/** Stripe's list pages: newest first, `limit` 1..100, `starting_after` / `ending_before` cursors. */
function listPage<T extends { id: string }>(newestFirst: T[], query: Record<string, unknown>, url: string, kind: string): Reply {
  const limit = query.limit === undefined ? 10 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return stripeError(400, 'invalid_request_error', 'This value must be less than or equal to 100.', 'parameter_invalid_integer');
  if (query.starting_after && query.ending_before) return stripeError(400, 'invalid_request_error', 'You may only specify one of these parameters: ending_before, starting_after.');
  const cursor = (query.starting_after ?? query.ending_before) as string | undefined;
  let data: T[];
  let hasMore: boolean;
  if (cursor) {
    const at = newestFirst.findIndex((o) => o.id === cursor);
    if (at < 0) return stripeError(400, 'invalid_request_error', `No such ${kind}: '${cursor}'`, 'resource_missing');
    if (query.starting_after) {
      data = newestFirst.slice(at + 1, at + 1 + limit);
      hasMore = at + 1 + limit < newestFirst.length;
    } else {
      // The page just newer than the cursor, still newest first.
      const from = Math.max(0, at - limit);
      data = newestFirst.slice(from, at);
      hasMore = from > 0;
    }
  } else {
    data = newestFirst.slice(0, limit);
    hasMore = newestFirst.length > limit;
  }
  return { status: 200, body: { object: 'list', url, has_more: hasMore, data: structuredClone(data) }, headers: { 'request-id': fakeId('req_') } };
}

/** `created[gte]=…` style range filters on a Unix-seconds field. */
function inRange(value: number, range: unknown): boolean {
  if (range === undefined || range === '') return true;
  if (typeof range !== 'object' || range === null) return value === Number(range);
  const r = range as Record<string, string>;
  return (r.gte === undefined || value >= Number(r.gte)) && (r.gt === undefined || value > Number(r.gt)) && (r.lte === undefined || value <= Number(r.lte)) && (r.lt === undefined || value < Number(r.lt));
}

export interface StripeState {
  customers: Record<string, Record<string, unknown>>;
  invoices: Record<string, Record<string, unknown>>;
  invoiceItems: Record<string, Record<string, unknown>>;
  /** Objects created per idempotency key: more than one is a duplicate. */
  createdPerKey: Record<string, number>;
}

/**
 * Stripe's wire format: form bodies, Bearer sk_test_ keys, the idempotency layer (replay with
 * Idempotent-Replayed, 400 idempotency_error on other parameters, 409 while in flight), and the
 * invoice state machine draft -> open -> paid | void.
 */
export class StripeFake implements ProviderHandler {
  private s: StripeState = { customers: {}, invoices: {}, invoiceItems: {}, createdPerKey: {} };
  private webhook: StripeWebhookTarget | null = null;
  /** Events posted (or given up on) so far, for tests: id, type, last HTTP status (`dropped`: never posted). */
  readonly deliveries: Array<{ id: string; type: string; status: number | null; dropped?: boolean }> = [];
  /** Every event, oldest first, as GET /v1/events lists them (newest first); kept until expireEvents. */
  readonly events: StripeEvent[] = [];
  /** Seconds added to the clock of new objects and events (tests of ordering and of Stripe's 30 days). */
  clockOffsetSeconds = 0;

  constructor(private readonly random: () => number = Math.random) {
    this.webhooks = new WebhookPoster(random);
  }

  setWebhook(target: { url: string; secret?: string; dropRate?: number } | null): void {
    // Events are signed: without a secret there is nothing to send.
    this.webhook = target?.secret ? { url: target.url, secret: target.secret, dropRate: target.dropRate } : null;
  }

  private now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffsetSeconds;
  }

  /** Events created before this time (seconds) are gone, as Stripe keeps 30 days of them. */
  expireEvents(before: number): void {
    const keep = this.events.filter((e) => e.created >= before);
    this.events.length = 0;
    this.events.push(...keep);
  }

  /**
   * Customers made in the dashboard or by an import long ago: no events (older than Stripe's 30
   * days), no webhooks. `make(i)` gives each one's fields.
   */
  seedCustomers(count: number, make: (i: number) => Record<string, unknown> = (i) => ({ name: `Seeded ${i}`, email: `seeded-${i}@example.com` })): string[] {
    const created = this.now();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const customer = { id: fakeId('cus_'), object: 'customer', created, livemode: false, metadata: {}, ...make(i) };
      this.s.customers[customer.id] = customer;
      ids.push(customer.id);
      this.customerList = null;
    }
    return ids;
  }

  seed(counts: Record<string, number>): Record<string, string[]> {
    return { customers: this.seedCustomers(Math.max(0, Math.min(200_000, Number(counts.customers ?? 0)))) };
  }

  /** A change made in the Stripe dashboard: the customer's fields, an event, and its webhook. */
  updateCustomer(id: string, fields: Record<string, unknown>): Record<string, unknown> {
    const customer = this.s.customers[id];
    if (!customer) throw new Error(`no customer ${id}`);
    const previous = Object.fromEntries(Object.keys(fields).map((k) => [k, customer[k] ?? null]));
    Object.assign(customer, fields);
    this.emit('customer.updated', customer, previous);
    return customer;
  }

  /** A customer deleted in the dashboard: gone from lists, `customer.deleted` sent. */
  deleteCustomer(id: string): void {
    const customer = this.s.customers[id];
    if (!customer) throw new Error(`no customer ${id}`);
    delete this.s.customers[id];
    this.customerList = null;
    this.emit('customer.deleted', { ...customer, deleted: true });
  }

  /**
   * Like Stripe: an `evt_` event signed with `Stripe-Signature` (t, v1), posted after the change,
   * retried a few times with back-off when the endpoint does not answer 2xx.
   */
  private emit(type: string, object: Record<string, unknown>, previous?: Record<string, unknown>): void {
    const event: StripeEvent = {
      id: fakeId('evt_'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created: this.now(),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: fakeId('req_'), idempotency_key: null },
      type,
    };
    this.events.push(event);
    const target = this.webhook;
    if (!target) return;
    const body = JSON.stringify(event);
    const delivery: (typeof this.deliveries)[number] = { id: event.id, type, status: null };
    this.deliveries.push(delivery);
    if (target.dropRate && this.random() < target.dropRate) {
      delivery.dropped = true;
      return;
    }
    // Stripe retries an event it got no 2xx for, and guarantees neither order nor a single delivery.
    this.webhooks.send(
      () => {
        const t = Math.floor(Date.now() / 1000);
        return fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': `t=${t},v1=${stripeSignature(target.secret, t, body)}`, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
          body,
        }).then((r) => r.status, () => 0);
      },
      (status) => (delivery.status = status),
    );
  }

  /** Webhook sending, with its faults (POST /__sandbox/webhook-faults): duplicated and reordered deliveries. */
  readonly webhooks: WebhookPoster;

  control(method: string, path: string, body: unknown): Reply | undefined {
    return this.webhooks.control(method, path, body);
  }
  /** Customers newest first, kept until one is added or deleted (large seeded lists page fast). */
  private customerList: Array<Record<string, unknown>> | null = null;

  private customersNewestFirst(): Array<Record<string, unknown>> {
    return (this.customerList ??= Object.values(this.s.customers).reverse());
  }
  private readonly idempotency = new Map<string, Stored>();
  private readonly inFlight = new Set<string>();

  reset() {
    this.s = { customers: {}, invoices: {}, invoiceItems: {}, createdPerKey: {} };
    this.customerList = null;
    this.deliveries.length = 0;
    this.events.length = 0;
    this.clockOffsetSeconds = 0;
    this.webhooks.reset();
    this.idempotency.clear();
    this.inFlight.clear();
  }

  state(): StripeState {
    return this.s;
  }

  errorReply(status: number, message: string): Reply {
    return status === 429 ? stripeError(429, 'invalid_request_error', message, 'rate_limit') : stripeError(status, 'api_error', message);
  }

  async handle(req: RecordedRequest): Promise<Reply> {
    const auth = String(req.headers.authorization ?? '');
    if (!/^Bearer sk_test_\w+/.test(auth)) return stripeError(401, 'invalid_request_error', 'Invalid API Key provided');
    const key = req.headers['idempotency-key'] as string | undefined;
    if (req.method !== 'POST' || !key) return this.execute(req, key);

    const scope = `${key}|${req.method}|${req.path}`;
    const fingerprint = createHash('sha256').update(req.body).digest('hex');
    const stored = this.idempotency.get(scope);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return stripeError(400, 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters they were first used with.');
      }
      return { ...stored.reply, headers: { ...stored.reply.headers, 'idempotent-replayed': 'true', 'idempotency-key': key } };
    }
    if (this.inFlight.has(scope)) return stripeError(409, 'idempotency_error', 'There is currently another in-progress request using this Idempotent Key.', 'idempotency_key_in_use');
    this.inFlight.add(scope);
    try {
      const reply = this.execute(req, key);
      // Validation failures are not stored (nothing executed); results of executed requests are.
      if (reply.status < 400 || reply.status >= 500) this.idempotency.set(scope, { fingerprint, reply });
      return { ...reply, headers: { ...reply.headers, 'idempotency-key': key } };
    } finally {
      this.inFlight.delete(scope);
    }
  }

  private created(key: string | undefined) {
    if (key) this.s.createdPerKey[key] = (this.s.createdPerKey[key] ?? 0) + 1;
  }

  private execute(req: RecordedRequest, key: string | undefined): Reply {
    const params = decodeForm(req.body);
    const now = this.now();
    const ok = (body: Record<string, unknown>): Reply => ({ status: 200, body, headers: { 'request-id': fakeId('req_') } });
    const path = req.path.split('?')[0];
    let m: RegExpExecArray | null;

    const query = decodeForm(req.path.split('?')[1] ?? '');
    if (req.method === 'GET' && path === '/v1/customers') {
      const filtered = query.created !== undefined || query.email !== undefined;
      const all = filtered ? Object.values(this.s.customers).filter((c) => inRange(Number(c.created), query.created) && (query.email === undefined || c.email === query.email)).reverse() : this.customersNewestFirst();
      return listPage(all as Array<{ id: string }>, query, path, 'customer');
    }
    if (req.method === 'GET' && path === '/v1/invoices') {
      const all = Object.values(this.s.invoices).filter((i) => inRange(Number(i.created), query.created) && (query.customer === undefined || i.customer === query.customer) && (query.status === undefined || i.status === query.status));
      return listPage(all.reverse() as Array<{ id: string }>, query, path, 'invoice');
    }
    if (req.method === 'GET' && path === '/v1/events') {
      const types = query.types === undefined ? null : new Set(Array.isArray(query.types) ? (query.types as string[]) : Object.values(query.types as Record<string, string>));
      if (types && types.size > 20) return stripeError(400, 'invalid_request_error', 'types may hold at most 20 event types');
      if (query.type !== undefined && types) return stripeError(400, 'invalid_request_error', 'You may only specify one of these parameters: type, types.');
      const type = query.type as string | undefined;
      const matching = this.events.filter((e) => (!types || types.has(e.type)) && (!type || e.type === type || (type.endsWith('.*') && e.type.startsWith(type.slice(0, -1)))) && inRange(e.created, query.created));
      // A cursor must be an event of the filtered list; Stripe answers 400 resource_missing otherwise.
      return listPage([...matching].reverse(), query, path, 'event');
    }
    if ((m = /^\/v1\/events\/([\w]+)$/.exec(path)) && req.method === 'GET') {
      const event = this.events.find((e) => e.id === m![1]);
      return event ? ok(structuredClone(event)) : stripeError(404, 'invalid_request_error', `No such event: '${m[1]}'`, 'resource_missing');
    }
    if ((m = /^\/v1\/invoices\/([\w]+)$/.exec(path)) && req.method === 'GET') {
      const invoice = this.s.invoices[m[1]];
      return invoice ? ok(structuredClone(invoice)) : stripeError(404, 'invalid_request_error', `No such invoice: '${m[1]}'`, 'resource_missing');
    }
    if (req.method === 'POST' && path === '/v1/customers') {
      if (params.email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(String(params.email))) {
        return stripeError(400, 'invalid_request_error', 'Invalid email address', 'email_invalid');
      }
      const customer = { id: fakeId('cus_'), object: 'customer', created: now, livemode: false, metadata: {}, ...params };
      this.s.customers[customer.id] = customer;
      this.customerList = null;
      this.created(key);
      this.emit('customer.created', customer);
      return ok(customer);
    }
    if ((m = /^\/v1\/customers\/([\w]+)$/.exec(path))) {
      const customer = this.s.customers[m[1]];
      if (!customer) return stripeError(404, 'invalid_request_error', `No such customer: '${m[1]}'`, 'resource_missing');
      if (req.method === 'DELETE') {
        this.deleteCustomer(m[1]);
        return ok({ id: m[1], object: 'customer', deleted: true });
      }
      if (req.method === 'POST') {
        const previous = Object.fromEntries(Object.keys(params).filter((k) => k !== 'metadata' && customer[k] !== params[k]).map((k) => [k, customer[k] ?? null]));
        Object.assign(customer, params, { metadata: { ...(customer.metadata as object), ...((params.metadata as object) ?? {}) } });
        if (Object.keys(previous).length) this.emit('customer.updated', customer, previous);
      }
      return ok(customer);
    }
    if (req.method === 'POST' && path === '/v1/invoices') {
      if (!params.customer || !this.s.customers[String(params.customer)]) return stripeError(400, 'invalid_request_error', 'No such customer', 'resource_missing');
      const invoice = { id: fakeId('in_'), object: 'invoice', status: 'draft', number: null, created: now, livemode: false, amount_due: 0, amount_paid: 0, total: 0, currency: params.currency, status_transitions: {}, ...params };
      this.s.invoices[invoice.id] = invoice;
      this.created(key);
      this.emit('invoice.created', invoice);
      return ok(invoice);
    }
    if (req.method === 'POST' && path === '/v1/invoiceitems') {
      const invoice = this.s.invoices[String(params.invoice)];
      if (!invoice) return stripeError(400, 'invalid_request_error', 'No such invoice', 'resource_missing');
      if (invoice.status !== 'draft') return stripeError(400, 'invalid_request_error', 'Invoice is not editable', 'invoice_not_editable');
      const item = { id: fakeId('ii_'), object: 'invoiceitem', ...params, amount: Number(params.amount) };
      this.s.invoiceItems[item.id] = item;
      invoice.total = Number(invoice.total) + item.amount;
      invoice.amount_due = invoice.total;
      this.created(key);
      return ok(item);
    }
    if ((m = /^\/v1\/invoices\/([\w]+)\/(finalize|send|pay|void)$/.exec(path)) && req.method === 'POST') {
      const invoice = this.s.invoices[m[1]];
      if (!invoice) return stripeError(404, 'invalid_request_error', `No such invoice: '${m[1]}'`, 'resource_missing');
      const transitions = (invoice.status_transitions ?? {}) as Record<string, number | null>;
      if (m[2] === 'finalize') {
        if (invoice.status !== 'draft') return stripeError(400, 'invalid_request_error', 'This invoice is already finalized', 'invoice_not_editable');
        Object.assign(invoice, { status: 'open', number: `SB-${Object.keys(this.s.invoices).length.toString().padStart(4, '0')}`, status_transitions: { ...transitions, finalized_at: now } });
        this.emit('invoice.finalized', invoice);
      } else if (m[2] === 'send') {
        if (invoice.status !== 'open') return stripeError(400, 'invalid_request_error', 'Only open invoices can be sent');
        this.emit('invoice.sent', invoice);
      } else if (m[2] === 'pay') {
        // As if the customer paid (out of band, or the card on file).
        if (invoice.status !== 'open') return stripeError(400, 'invalid_request_error', `Invoice is ${String(invoice.status)}; only open invoices can be paid`, 'invoice_not_open');
        Object.assign(invoice, { status: 'paid', paid: true, amount_paid: invoice.amount_due, amount_remaining: 0, status_transitions: { ...transitions, paid_at: now } });
        this.emit('invoice.paid', invoice);
      } else {
        if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return stripeError(400, 'invalid_request_error', 'Only open or uncollectible invoices can be voided');
        Object.assign(invoice, { status: 'void', status_transitions: { ...transitions, voided_at: now } });
        this.emit('invoice.voided', invoice);
      }
      return ok(invoice);
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${path})`);
  }
}
