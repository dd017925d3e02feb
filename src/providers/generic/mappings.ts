import jsonata from 'jsonata';
import { badInput } from '../../domain/shared/errors.js';

/**
 * GENERIC integrations as targets: how each operation calls the integration's REST API, kept as
 * data on the integration (`mappings`) and validated when saved.
 *
 * ```json
 * { "customer.upsert": {
 *     "method": "PATCH", "path": "/api/clients/{externalId}",
 *     "create": { "method": "POST", "path": "/api/clients" },
 *     "body": "{ 'displayName': name, 'contact': { 'email': email } }",
 *     "id": "data.id" } }
 * ```
 *
 * `body` is a JSONata expression over the canonical record (the job's payload) that makes the
 * request body; `id` one over the answer's JSON that reads the provider's id of the record.
 * `{name}` in a path is one of the operation's ids, URL-encoded. `create` is the route while the
 * record has no provider id here yet (an API that creates with POST and updates by its own id).
 */

export const MAPPED_OPERATIONS = ['customer.upsert', 'contract.upsert'] as const;
export type MappedOperation = (typeof MAPPED_OPERATIONS)[number];

export interface Route {
  method: 'POST' | 'PUT' | 'PATCH';
  path: string;
}

export interface OperationMapping extends Route {
  body: string;
  id: string;
  create?: Route;
}

/**
 * What a body expression sees: the canonical record as the job's payload holds it. The bindings
 * `$externalId` (this record's provider id, null before the first sync) and, for contracts,
 * `$customerExternalId` (its customer's) are there too; the same names work in paths.
 */
export const INPUT_FIELDS: Record<MappedOperation, readonly string[]> = {
  'customer.upsert': ['customerId', 'name', 'email', 'phone', 'taxId', 'currency'],
  'contract.upsert': ['contractId', 'customerId', 'title', 'status', 'amount', 'currency', 'endDate'],
};

/** The names a path may use, per operation. */
export const PATH_VARIABLES: Record<MappedOperation, readonly string[]> = {
  'customer.upsert': ['customerId', 'externalId'],
  'contract.upsert': ['contractId', 'customerId', 'externalId', 'customerExternalId'],
};

/** Records an expression is tried on when saved: a typo in a function name fails here, not at the first sync. */
const SAMPLES: Record<MappedOperation, Record<string, unknown>> = {
  'customer.upsert': { customerId: '0190a9e2-5b1c-7d3e-8f4a-1b2c3d4e5f60', name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', taxId: 'GB123456789', currency: 'GBP' },
  'contract.upsert': {
    contractId: '0190a9e2-5b1c-7d3e-8f4a-1b2c3d4e5f61',
    customerId: '0190a9e2-5b1c-7d3e-8f4a-1b2c3d4e5f60',
    title: 'Analytical Engine support',
    status: 'ACTIVE',
    amount: '1200.00',
    currency: 'GBP',
    endDate: '2027-12-31T00:00:00.000Z',
  },
};

/**
 * Limits on one evaluation: expressions run in the worker's event loop, so a runaway one
 * (deep recursion, a huge range) fails its job rather than stall every other call.
 */
const LIMITS = { timeout: 250, stack: 250, sequence: 100_000 };

const compiled = new Map<string, jsonata.Expression>();

/** The expression compiled once per process (compiling costs far more than evaluating). */
export function expression(source: string): jsonata.Expression {
  let expr = compiled.get(source);
  if (!expr) {
    expr = jsonata(source, LIMITS);
    if (compiled.size >= 1_000) compiled.clear();
    compiled.set(source, expr);
  }
  return expr;
}

/** JSONata's error (a plain object with code, position, token) as one line. */
export function jsonataMessage(err: unknown): string {
  const e = err as { message?: string; code?: string; position?: number };
  return `${e.message ?? String(err)}${e.code ? ` (${e.code}${typeof e.position === 'number' ? ` at position ${e.position}` : ''})` : ''}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function route(op: MappedOperation, raw: unknown, field: string, forCreate: boolean): Route {
  if (!isObject(raw)) throw badInput(field, `${field} must be an object with method and path`);
  const method = raw.method;
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') throw badInput(`${field}.method`, `${field}.method must be POST, PUT or PATCH (operation ${op})`);
  const path = raw.path;
  // A path is appended to the base URL: it starts with "/" so it can never name another host.
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || path.length > 2_000 || /[\s#]/.test(path)) {
    throw badInput(`${field}.path`, `${field}.path must start with "/" and hold no spaces or "#" (operation ${op})`);
  }
  const allowed = PATH_VARIABLES[op].filter((v) => !(forCreate && (v === 'externalId')));
  for (const [, name] of path.matchAll(/\{([^{}]*)\}/g)) {
    if (!allowed.includes(name)) throw badInput(`${field}.path`, `${field}.path: {${name}} is not one of ${allowed.map((v) => `{${v}}`).join(', ')} (operation ${op})`);
  }
  if (/[{}]/.test(path.replace(/\{[^{}]*\}/g, ''))) throw badInput(`${field}.path`, `${field}.path has an unmatched brace (operation ${op})`);
  return { method, path };
}

async function checkExpression(op: MappedOperation, source: unknown, field: string, sample: unknown): Promise<string> {
  if (typeof source !== 'string' || source.trim() === '' || source.length > 20_000) {
    throw badInput(field, `${field} must be a JSONata expression (a non-empty string of at most 20000 characters) (operation ${op})`);
  }
  let expr: jsonata.Expression;
  try {
    expr = expression(source);
  } catch (err) {
    throw badInput(field, `${field} is not a valid JSONata expression for operation ${op}: ${jsonataMessage(err)}`);
  }
  if (sample !== undefined) {
    let result: unknown;
    try {
      result = await expr.evaluate(sample, { externalId: 'sample-external-id', customerExternalId: 'sample-customer-external-id' });
    } catch (err) {
      throw badInput(field, `${field} failed on a sample record for operation ${op}: ${jsonataMessage(err)}`);
    }
    if (typeof result !== 'object' || result === null) {
      throw badInput(field, `${field} must produce a JSON object or array for operation ${op}; on a sample record it produced ${result === undefined ? 'nothing' : JSON.stringify(result)}`);
    }
  }
  return source;
}

/**
 * Validates an integration's mappings: known operations only; each with method, path, body and
 * id; expressions that compile, and a body that makes an object on a sample record. A mapping
 * whose path needs `{externalId}` has a `create` route for records not yet linked. Every refusal
 * is BAD_USER_INPUT naming the operation and the field.
 */
export async function parseGenericMappings(raw: unknown): Promise<Record<string, OperationMapping>> {
  if (!isObject(raw)) throw badInput('mappings', `mappings must be an object keyed by operation (${MAPPED_OPERATIONS.join(', ')})`);
  const out: Record<string, OperationMapping> = {};
  for (const [op, value] of Object.entries(raw)) {
    const field = `mappings.${op}`;
    if (!(MAPPED_OPERATIONS as readonly string[]).includes(op)) throw badInput(field, `unknown operation "${op}" in mappings; known: ${MAPPED_OPERATIONS.join(', ')}`);
    const operation = op as MappedOperation;
    if (!isObject(value)) throw badInput(field, `${field} must be an object with method, path, body and id`);
    const unknown = Object.keys(value).find((k) => !['method', 'path', 'body', 'id', 'create'].includes(k));
    if (unknown) throw badInput(`${field}.${unknown}`, `${field} takes method, path, body, id and create; not "${unknown}"`);
    const main = route(operation, value, field, false);
    const create = value.create === undefined ? undefined : route(operation, value.create, `${field}.create`, true);
    if (!create && main.path.includes('{externalId}')) {
      throw badInput(`${field}.create`, `${field}.path uses {externalId}, which a record has only after its first sync: add "create" ({ method, path }) for that first call (operation ${op})`);
    }
    const body = await checkExpression(operation, value.body, `${field}.body`, SAMPLES[operation]);
    const id = await checkExpression(operation, value.id, `${field}.id`, undefined);
    out[op] = { ...main, body, id, ...(create ? { create } : {}) };
  }
  return out;
}
