import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/domain/shared/ids.js';
import { getSchema } from '../../src/graphql/schema.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId, STRIPE_KEY } from '../support/outbound.js';

/**
 * Property: whatever a client sends to any mutation or filtered query (every one in the schema,
 * arguments generated from their input types: long strings, NUL, lone surrogates, huge and
 * negative numbers, deep JSON, unknown fields, wrong types), the answer is never a 5xx nor
 * INTERNAL_SERVER_ERROR, and a refused request leaves the database as it was.
 *
 * FUZZ_SEED and FUZZ_RUNS replay or widen a run; fast-check prints the seed and the shrunk
 * counterexample of a failure.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

let t: TestGateway;
let schema: GraphQLSchema;
const ids: Record<string, string[]> = {};

/** Everything a refused request must leave untouched, in one value. */
async function fingerprint(): Promise<string> {
  const [row] = await t.sql<{ f: string }>(`
    SELECT concat_ws('|',
      (SELECT count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) FROM customer c),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(k::text)), 0) FROM contract k),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(i::text)), 0) FROM invoice i),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(l::text)), 0) FROM invoice_line_item l),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(n::text)), 0) FROM integration n),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(concat_ws(',', a.id, a.revoked_at, a.expires_at, a.requests_per_minute, a.scopes))), 0) FROM api_key a),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(j::text)), 0) FROM integration_job j),
      (SELECT count(*) FROM integration_log),
      (SELECT count(*) FROM audit_log),
      (SELECT count(*) || ':' || coalesce(sum(hashtext(w::text)), 0) FROM webhook_event w),
      (SELECT count(*) FROM pgboss.job)) AS f`);
  return row.f;
}

const awkwardString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '😀'.repeat(10), '\u202e', "'; DROP TABLE customer; --", '%00', '${7*7}', '__proto__') },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.emailAddress() },
  { weight: 1, arbitrary: fc.webUrl() },
);

const awkwardNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2_000_000_000, Number.MAX_SAFE_INTEGER, 1e308, -1e308, 0.5, -0.0),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const decimal = fc.oneof(
  fc.constantFrom('0', '12.50', '-1', '99999999999999999999', '1e309', '0.001', '1.2.3', 'abc', '', ' 12 ', '10000000000000.00', '10000000000000.01', '-0'),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map((n) => n.toString()),
  fc.tuple(fc.nat(), fc.nat({ max: 9999 })).map(([a, b]) => `${a}.${b}`),
);

const dateTime = fc.oneof(
  fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-13-45T00:00:00Z', 'yesterday', '', '0000-00-00', '+275760-09-13T00:00:00.000Z', '1970-01-01T00:00:00Z'),
);

/** JSON of any shape, including deeper than anything reasonable. */
const deepJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 400 }).map((depth) => Array.from({ length: depth }).reduce<unknown>((inner) => ({ a: inner }), 'leaf')) },
  { weight: 1, arbitrary: fc.dictionary(awkwardString, awkwardString, { maxKeys: 5 }) },
);

/** A value of some other type than asked, for the coercion errors clients make most. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant({ x: 1 }), fc.constant([1, 'a']));

function idFor(argName: string): fc.Arbitrary<string> {
  const all = Object.values(ids).flat();
  const guess = Object.keys(ids).find((type) => argName.toLowerCase().includes(type.toLowerCase()));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(guess ? ids[guess] : all)) },
    { weight: 1, arbitrary: fc.constantFrom(...all) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: awkwardString },
    { weight: 1, arbitrary: fc.constantFrom(toGlobalId('Customer', '00000000-0000-7000-8000-000000000000'), toGlobalId('Nope', '00000000-0000-7000-8000-000000000000')) },
  );
}

/**
 * An arbitrary for a value of `type`: well-typed but awkward (to reach the resolvers and their
 * validation), or, when `noisy`, sometimes of the wrong type, null where required, or carrying
 * unknown fields (to reach coercion).
 */
function valueOf(type: GraphQLInputType, name: string, noisy: boolean, depth = 0): fc.Arbitrary<unknown> {
  const required = isNonNullType(type);
  const inner = required ? type.ofType : type;
  let value: fc.Arbitrary<unknown>;
  if (isListType(inner)) {
    const item = valueOf(inner.ofType as GraphQLInputType, name, noisy, depth + 1);
    value = fc.oneof({ weight: 4, arbitrary: fc.array(item, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(item, { minLength: 200, maxLength: 600 }) }, { weight: 1, arbitrary: item });
  } else if (isInputObjectType(inner)) {
    if (depth > 4) return fc.constant(null);
    const fields = Object.values(inner.getFields());
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) record[f.name] = isNonNullType(f.type) ? valueOf(f.type, f.name, noisy, depth + 1) : fc.option(valueOf(f.type, f.name, noisy, depth + 1), { nil: undefined, freq: 3 });
    const unknownFields = noisy ? fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), wrongType, { maxKeys: 2 }), { freq: 8 }) : fc.constant(null);
    value = fc.tuple(fc.record(record), unknownFields).map(([r, extra]) => {
      const clean = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
      return extra ? { ...clean, ...extra } : clean;
    });
  } else if (isEnumType(inner)) {
    const values = fc.constantFrom(...inner.getValues().map((v) => v.name));
    value = noisy ? fc.oneof({ weight: 5, arbitrary: values }, { weight: 1, arbitrary: awkwardString }) : values;
  } else if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID':
        value = idFor(name);
        break;
      case 'Int':
      case 'Float':
        value = awkwardNumber;
        break;
      case 'Boolean':
        value = fc.boolean();
        break;
      case 'Decimal':
        value = decimal;
        break;
      case 'DateTime':
        value = dateTime;
        break;
      case 'JSON':
        value = deepJson;
        break;
      default:
        value = awkwardString;
    }
  } else {
    value = fc.constant(null);
  }
  if (!noisy) return required ? value : fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) });
  return fc.oneof({ weight: 12, arbitrary: value }, { weight: 1, arbitrary: wrongType }, { weight: required ? 1 : 2, arbitrary: fc.constant(null) });
}

interface Case {
  operation: 'mutation' | 'query';
  field: string;
  query: string;
  variables: Record<string, unknown>;
}

function caseFor(operation: 'mutation' | 'query', field: GraphQLField<unknown, unknown>): fc.Arbitrary<Case> {
  const args = field.args as readonly GraphQLArgument[];
  const declared = args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passed = args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isLeafType(field) ? '' : ' { __typename }';
  const query = `${operation}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection} }`;
  const variables = (noisy: boolean) => {
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const a of args) record[a.name] = valueOf(a.type, a.name, noisy);
    return fc.record(record);
  };
  return fc.oneof({ weight: 3, arbitrary: variables(false) }, { weight: 1, arbitrary: variables(true) }).map((v) => ({ operation, field: field.name, query, variables: v }));
}

function isLeafType(field: GraphQLField<unknown, unknown>): boolean {
  const named = getNamedType(field.type);
  return isScalarType(named) || isEnumType(named);
}

beforeAll(async () => {
  // API only: no worker calls a provider with what the fuzzer creates.
  t = await startTestGateway({ ROLE: 'api' });
  schema = await getSchema();
  const run = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(t.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const customer = (await run(`mutation { createCustomer(input: { name: "Fuzz", email: "fuzz@example.com" }) { customer { id } } }`)).createCustomer.customer.id;
  const contract = (await run(`mutation($c: ID!) { createContract(input: { customerId: $c, title: "Fuzz" }) { contract { id } } }`, { c: customer })).createContract.contract.id;
  const invoice = (await run(`mutation($c: ID!) { createInvoice(input: { customerId: $c, currency: "USD", lineItems: [{ description: "x", quantity: 1, unitAmount: "1.00" }] }) { invoice { id } } }`, { c: customer })).createInvoice.invoice.id;
  const integration = (await run(`mutation { createIntegration(input: { provider: STRIPE, name: "Fuzz", baseUrl: "https://api.stripe.com", credentials: { apiKey: "${STRIPE_KEY}" }, webhookSecret: "whsec_fuzzfuzzfuzzfuzz" }) { integration { id } } }`)).createIntegration.integration.id;
  const sendgrid = (await run(`mutation { createIntegration(input: { provider: SENDGRID, name: "Fuzz mail", baseUrl: "https://api.sendgrid.com", credentials: { apiKey: "SG.fuzz" } }) { integration { id } } }`)).createIntegration.integration.id;
  const job = (await run(`mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i) { job { id } } }`, { c: customer, i: integration })).pushCustomer.job.id;
  // A key the fuzzer may revoke (never the admin key it runs as).
  const key = (await run(`mutation { createApiKey(input: { name: "fuzz", role: APP }) { apiKey { id } } }`)).createApiKey.apiKey.id;
  const event = await t.sql<{ id: string }>(
    `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, status, body, received_at, correlation_id)
     VALUES (gen_random_uuid(), $1, 'STRIPE', 'evt_fuzz', 'customer.updated', 'FAILED', '{}', now(), 'fuzz') RETURNING id`,
    [rowId(integration)],
  );
  Object.assign(ids, {
    Customer: [customer],
    Contract: [contract],
    Invoice: [invoice],
    Integration: [integration, sendgrid],
    IntegrationJob: [job],
    ApiKey: [key],
    WebhookEvent: [toGlobalId('WebhookEvent', event[0].id)],
  });
});
afterAll(async () => t?.stop());

describe('fuzzing every mutation and filter', () => {
  it(`${RUNS} generated requests (seed ${SEED}): never a 5xx or INTERNAL_SERVER_ERROR; a refusal writes nothing`, async () => {
    const mutations = Object.values(schema.getMutationType()!.getFields());
    const filtered = Object.values(schema.getQueryType()!.getFields()).filter((f) => f.args.some((a) => a.name === 'filter'));
    expect(mutations.length).toBeGreaterThan(15);
    expect(filtered.length).toBeGreaterThanOrEqual(8);
    const cases = fc.oneof(...mutations.map((f) => caseFor('mutation', f)), ...filtered.map((f) => caseFor('query', f)));
    const seen = new Set<string>();
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        seen.add(c.field);
        const before = c.operation === 'mutation' ? await fingerprint() : null;
        const res = await fetch(t.gateway.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
          body: JSON.stringify({ query: c.query, variables: c.variables }),
        });
        const text = await res.text();
        expect(res.status, text.slice(0, 300)).toBeLessThan(500);
        const body = JSON.parse(text) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
        const codes = (body.errors ?? []).map((e) => e.extensions?.code);
        outcomes.set(codes[0] ?? 'ok', (outcomes.get(codes[0] ?? 'ok') ?? 0) + 1);
        expect(codes, text.slice(0, 300)).not.toContain('INTERNAL_SERVER_ERROR');
        if (before !== null && body.errors?.length) expect(await fingerprint(), `${c.field} refused but wrote: ${text.slice(0, 200)}`).toBe(before);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.info(`fuzz outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    // Every mutation and filter was tried.
    expect([...seen].sort()).toEqual([...mutations, ...filtered].map((f) => f.name).sort());
  }, 600_000);
});
