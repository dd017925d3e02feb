import { Provider } from '../../domain/integration/integration.entity.js';
import { ProviderError, type CallContext, type Connector, type HttpExchange, type OperationResult } from '../connector.js';
import { classifyStatus, parseRetryAfter, send } from '../http.js';
import { maskBody, maskForm } from '../../observability/masking.js';
import { encodeForm } from './form.js';

/** The API version the mappers are written against; sent on every request. */
export const STRIPE_API_VERSION = '2026-10-28.endive';

export interface StripeObject {
  id: string;
  object: string;
  [key: string]: unknown;
}

/** One POST with Stripe's wire format: form body, Bearer secret key, the idempotency key, the pinned API version. */
async function post(ctx: CallContext, path: string, params: Record<string, unknown>, idempotencyKey: string, log: HttpExchange[]): Promise<StripeObject> {
  const body = encodeForm(params);
  const res = await send(ctx, {
    method: 'POST',
    path,
    headers: {
      authorization: `Bearer ${String(ctx.credentials.apiKey)}`,
      'content-type': 'application/x-www-form-urlencoded',
      'idempotency-key': idempotencyKey,
      'stripe-version': STRIPE_API_VERSION,
    },
    body,
    maskedRequest: maskForm(body),
  });
  res.exchange.response = maskBody(res.body);
  log.push(res.exchange);
  if (res.status >= 200 && res.status < 300) return res.body as StripeObject;
  return Promise.reject(stripeFailure(res, log));
}

/**
 * A GET with Stripe's wire format (Bearer key, the pinned version) and query parameters in its
 * form encoding (`created[gte]=...`, `types[]=...`). The sync runs' and rehydrate's reads.
 * A 404 answers null.
 */
export async function stripeGet(ctx: CallContext, path: string, query: Record<string, unknown>, log: HttpExchange[] = []): Promise<StripeObject | null> {
  const qs = encodeForm(query);
  const res = await send(ctx, {
    method: 'GET',
    path: qs ? `${path}?${qs}` : path,
    headers: { authorization: `Bearer ${String(ctx.credentials.apiKey)}`, 'stripe-version': STRIPE_API_VERSION },
  });
  log.push(res.exchange);
  if (res.status >= 200 && res.status < 300) return res.body as StripeObject;
  if (res.status === 404) return null;
  throw stripeFailure(res, log);
}

/**
 * A Stripe error answer as a ProviderError, by Stripe's own signals: Stripe-Should-Retry wins,
 * then 409 idempotency_key_in_use and lock_timeout (retryable), 429, 5xx; other 4xx are final.
 */
function stripeFailure(res: { status: number; body: unknown; headers: { get(name: string): string | null } }, log: HttpExchange[]): ProviderError {
  const error = (res.body as { error?: { type?: string; code?: string; message?: string } } | null)?.error ?? {};
  const message = `Stripe ${res.status} ${error.type ?? 'error'}${error.code ? ` (${error.code})` : ''}: ${error.message ?? 'no message'}`;
  const shouldRetry = res.headers.get('stripe-should-retry');
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (shouldRetry === 'false') return new ProviderError(res.status === 429 ? 'rate_limited' : res.status >= 500 ? 'server' : 'client', message, false, res.status, null, log);
  if (shouldRetry === 'true' || (res.status === 409 && error.code === 'idempotency_key_in_use') || error.code === 'lock_timeout') {
    return new ProviderError(res.status === 429 ? 'rate_limited' : 'server', message, true, res.status, retryAfter, log);
  }
  if (res.status === 400 && error.code === 'rate_limit') return new ProviderError('rate_limited', message, true, res.status, retryAfter, log);
  return classifyStatus(res.status, message, retryAfter, log);
}

const result = (exchanges: HttpExchange[], links: OperationResult['links'], summary: Record<string, unknown>): OperationResult => ({ links, exchanges, summary });

function customerParams(p: Record<string, unknown>) {
  return {
    name: p.name,
    email: p.email ?? undefined,
    phone: p.phone ?? undefined,
    metadata: { switchboard_id: p.customerId },
  };
}

/** Creates the Stripe customer, or updates the one this customer is already linked to. */
async function upsertCustomer(p: Record<string, unknown>, key: string, ctx: CallContext, log: HttpExchange[]): Promise<StripeObject> {
  const existing = await ctx.refs('Customer', String(p.customerId));
  return existing
    ? post(ctx, `/v1/customers/${encodeURIComponent(existing)}`, customerParams(p), key, log)
    : post(ctx, '/v1/customers', customerParams(p), key, log);
}

export const stripeConnector: Connector = {
  provider: Provider.STRIPE,
  operations: {
    async 'customer.upsert'(p, key, ctx) {
      const log: HttpExchange[] = [];
      // A repair of a change Stripe's whole-second clock could not order against the gateway's
      // last write (see ReconcileContext.applyOwned): read first, write only what differs, so
      // Stripe is not sent back the value it already holds.
      const linked = p.verifyFirst === true ? await ctx.refs('Customer', String(p.customerId)) : null;
      if (linked) {
        const held = await stripeGet(ctx, `/v1/customers/${encodeURIComponent(linked)}`, {}, log);
        if (held && !held.deleted && ['name', 'email', 'phone'].every((f) => (held[f] ?? null) === (p[f] ?? null))) {
          return result(log, [{ entityType: 'Customer', entityId: String(p.customerId), externalId: held.id }], { stripeCustomerId: held.id, unchanged: true });
        }
      }
      const customer = await upsertCustomer(p, key, ctx, log);
      return result(log, [{ entityType: 'Customer', entityId: String(p.customerId), externalId: customer.id, remoteData: { livemode: customer.livemode ?? false } }], {
        stripeCustomerId: customer.id,
      });
    },

    /**
     * Invoice, its items, finalize, send: each step has its own key derived from the job's, so a
     * retry after partial progress replays the finished steps at Stripe and carries on.
     */
    async 'invoice.send'(p, key, ctx) {
      const log: HttpExchange[] = [];
      const customerPayload = p.customer as Record<string, unknown>;
      const customer = (await ctx.refs('Customer', String(p.customerId))) ?? (await upsertCustomer(customerPayload, `${key}:customer`, ctx, log)).id;
      const currency = String(p.currency).toLowerCase();
      const daysUntilDue = Number(p.daysUntilDue ?? 30);
      const invoice = await post(
        ctx,
        '/v1/invoices',
        {
          customer,
          currency,
          collection_method: 'send_invoice',
          days_until_due: daysUntilDue,
          auto_advance: false,
          metadata: { switchboard_id: p.invoiceId, number: p.number },
        },
        `${key}:invoice`,
        log,
      );
      const items = [...(p.lineItems as Array<{ description: string; quantity: number; amountMinor: string }>)];
      // The canonical invoice's tax travels as its own item, so the Stripe total matches ours.
      if (p.taxMinor && BigInt(String(p.taxMinor)) > 0n) items.push({ description: 'Tax', quantity: 1, amountMinor: String(p.taxMinor) });
      for (const [i, item] of items.entries()) {
        await post(ctx, '/v1/invoiceitems', { customer, invoice: invoice.id, currency, amount: item.amountMinor, description: `${item.description} × ${item.quantity}` }, `${key}:item:${i}`, log);
      }
      await post(ctx, `/v1/invoices/${invoice.id}/finalize`, {}, `${key}:finalize`, log);
      const sent = await post(ctx, `/v1/invoices/${invoice.id}/send`, {}, `${key}:send`, log);
      return result(
        log,
        [
          { entityType: 'Customer', entityId: String(p.customerId), externalId: customer },
          { entityType: 'Invoice', entityId: String(p.invoiceId), externalId: invoice.id, remoteData: { status: sent.status, number: sent.number ?? null } },
        ],
        { stripeInvoiceId: invoice.id, stripeStatus: sent.status },
      );
    },
  },
};
