import { Provider } from '../../domain/integration/integration.entity.js';
import { maskBody } from '../../observability/masking.js';
import { ProviderError, type CallContext, type Connector, type HttpExchange, type OperationResult } from '../connector.js';
import { classifyStatus, parseRetryAfter, send } from '../http.js';
import { expression, INPUT_FIELDS, jsonataMessage, type MappedOperation, type OperationMapping } from './mappings.js';

/** A short, masked rendering of an error answer for the job's lastError. */
function excerpt(body: unknown): string {
  if (body === null || body === undefined) return 'no body';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** `{name}` replaced by the URL-encoded value; a value the record does not have yet fails the job (final). */
function fillPath(op: string, template: string, vars: Record<string, string | null>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === null || value === undefined) {
      throw new ProviderError('client', `mapping ${op}: the path needs {${name}}, which this record does not have yet`, false);
    }
    return encodeURIComponent(value);
  });
}

/**
 * One mapped operation: the body from the canonical record (JSONata), the route (`create` while
 * the record is not linked here, if the mapping has one), the integration's configured headers,
 * the job's idempotency key as `Idempotency-Key` (the same on every attempt, for APIs that honour
 * it), and the provider id read from the answer (JSONata again). A 2xx without a readable id keeps
 * the id the record already has; without one, the job fails: the write happened but cannot be
 * linked, and a retry would write again.
 */
async function run(op: MappedOperation, p: Record<string, unknown>, key: string, ctx: CallContext): Promise<OperationResult> {
  const mapping = (ctx.mappings ?? {})[op] as OperationMapping | undefined;
  if (!mapping) throw new ProviderError('client', `this GENERIC integration has no mapping for ${op} (updateIntegration with mappings adds one)`, false);
  const log: HttpExchange[] = [];
  const entityType = op === 'customer.upsert' ? 'Customer' : 'Contract';
  const entityId = String(op === 'customer.upsert' ? p.customerId : p.contractId);
  const externalId = await ctx.refs(entityType, entityId);
  const customerExternalId = op === 'contract.upsert' ? await ctx.refs('Customer', String(p.customerId)) : null;
  const bindings = { externalId, customerExternalId };
  const input = Object.fromEntries(INPUT_FIELDS[op].map((f) => [f, p[f] ?? null]));

  let body: unknown;
  try {
    body = await expression(mapping.body).evaluate(input, bindings);
  } catch (err) {
    throw new ProviderError('client', `mapping ${op}.body failed on this record: ${jsonataMessage(err)}`, false);
  }
  if (typeof body !== 'object' || body === null) {
    throw new ProviderError('client', `mapping ${op}.body produced ${body === undefined ? 'nothing' : typeof body} for this record; a JSON object or array is sent`, false);
  }
  const route = externalId === null && mapping.create ? mapping.create : mapping;
  const vars = Object.fromEntries(Object.entries({ ...input, ...bindings }).map(([k, v]) => [k, v === null ? null : String(v)]));
  const path = fillPath(op, route.path, vars);
  const configured = Object.fromEntries(Object.entries((ctx.credentials.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
  const res = await send(ctx, {
    method: route.method,
    path,
    headers: { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': key, ...configured },
    body: JSON.stringify(body),
    maskedRequest: maskBody(body),
  });
  res.exchange.response = maskBody(res.body);
  log.push(res.exchange);
  if (res.status < 200 || res.status >= 300) {
    throw classifyStatus(res.status, `${route.method} ${path} answered ${res.status}: ${excerpt(res.body)}`, parseRetryAfter(res.headers.get('retry-after')), log);
  }
  let read: unknown;
  if (res.body !== null) {
    try {
      read = await expression(mapping.id).evaluate(res.body, bindings);
    } catch (err) {
      throw new ProviderError('client', `mapping ${op}.id failed on the answer: ${jsonataMessage(err)}`, false, res.status, null, log);
    }
  }
  const providerId = typeof read === 'string' && read.length > 0 && read.length <= 255 ? read : typeof read === 'number' && Number.isFinite(read) ? String(read) : externalId;
  if (!providerId) {
    throw new ProviderError('client', `${route.method} ${path} answered ${res.status} but mapping ${op}.id (${mapping.id}) found no id in the answer: the record was written and is not linked`, false, res.status, null, log);
  }
  return {
    links: [{ entityType, entityId, externalId: providerId }],
    exchanges: log,
    summary: { providerId, firstSync: externalId === null, status: res.status },
  };
}

/** GENERIC as a target: any REST API, called as the integration's `mappings` say. */
export const genericConnector: Connector = {
  provider: Provider.GENERIC,
  operations: {
    'customer.upsert': (p, key, ctx) => run('customer.upsert', p, key, ctx),
    'contract.upsert': (p, key, ctx) => run('contract.upsert', p, key, ctx),
  },
};
