import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContractDocument,
  ContractsDocument,
  CreateApiKeyDocument,
  CreateContractDocument,
  CreateCustomerDocument,
  CreateIntegrationDocument,
  CreateInvoiceDocument,
  CustomerDocument,
  CustomersDocument,
  CustomersWithRelationsDocument,
  IntegrationsDocument,
  IntrospectDocument,
  InvoiceDocument,
  InvoicePageDocument,
  NodeDocument,
  RevokeApiKeyDocument,
} from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway } from '../support/gateway.js';

let t: TestGateway;
const granted = { customer: '', contract: '', invoice: '' };
const hidden = { customer: '', contract: '', invoice: '' };
let partnerKey: string;

async function seed(name: string) {
  const customer = (await t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase()}@example.com` } })).createCustomer.customer.id;
  const contract = (await t.run(CreateContractDocument, { input: { customerId: customer, title: `${name} deal` } })).createContract.contract.id;
  const invoice = (
    await t.run(CreateInvoiceDocument, {
      input: { customerId: customer, contractId: contract, currency: 'USD', lineItems: [{ description: name, quantity: 1, unitAmount: '10.00' }] },
    })
  ).createInvoice.invoice.id;
  return { customer, contract, invoice };
}

beforeAll(async () => {
  t = await startTestGateway();
  Object.assign(granted, await seed('Granted'));
  Object.assign(hidden, await seed('Hidden'));
  partnerKey = (await t.run(CreateApiKeyDocument, { input: { name: 'partner', role: 'PARTNER', customerIds: [granted.customer] } })).createApiKey.key;
});
afterAll(async () => t?.stop());

describe('authentication', () => {
  it('no key, a malformed header and an unknown key get UNAUTHENTICATED with HTTP 401', async () => {
    for (const options of [{ key: null }, { key: null, headers: { authorization: 'Basic abc' } }, { key: 'sb_unknown_000000000000000000000000' }]) {
      const res = await t.request(CustomersDocument, {}, options);
      expect(res.status).toBe(401);
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
      expect(res.body.data).toBeUndefined();
    }
  });

  it('createApiKey shows the key once and stores only its hash; revokeApiKey takes effect on the next request', async () => {
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'app', role: 'APP' } });
    expect(createApiKey.key).toMatch(/^sb_[A-Za-z0-9]{9}_[A-Za-z0-9]{32}$/);
    expect(createApiKey.key.startsWith(createApiKey.apiKey.prefix)).toBe(true);
    const rows = await t.sql<{ hash: Buffer; prefix: string }>('SELECT hash, prefix FROM api_key WHERE prefix = $1', [createApiKey.apiKey.prefix]);
    expect(rows).toHaveLength(1);
    expect(rows[0].hash.length).toBe(32);
    const dump = JSON.stringify(await t.sql('SELECT * FROM api_key'));
    expect(dump).not.toContain(createApiKey.key);

    expect((await t.request(CustomersDocument, {}, { key: createApiKey.key })).status).toBe(200);
    await t.run(RevokeApiKeyDocument, { id: createApiKey.apiKey.id });
    const after = await t.request(CustomersDocument, {}, { key: createApiKey.key });
    expect(after.status).toBe(401);
    expect(codes(after)).toEqual(['UNAUTHENTICATED']);
  });

  it('introspection is answered for every authenticated key, partners included, and refused without one', async () => {
    const res = await t.request(IntrospectDocument, {}, { key: partnerKey });
    expect(res.body.data?.__schema.types.map((x) => x.name)).toContain('Customer');
    expect((await t.request(IntrospectDocument, {}, { key: null })).status).toBe(401);
  });
});

describe('roles and scopes', () => {
  it('a key lacking the scope gets FORBIDDEN and nothing is written', async () => {
    const operator = (await t.run(CreateApiKeyDocument, { input: { name: 'ops', role: 'OPERATOR' } })).createApiKey.key;
    const app = (await t.run(CreateApiKeyDocument, { input: { name: 'app2', role: 'APP' } })).createApiKey.key;
    const before = await t.sql('SELECT id FROM customer');
    const denied = await t.request(CreateCustomerDocument, { input: { name: 'Nope' } }, { key: operator });
    expect(codes(denied)).toEqual(['FORBIDDEN']);
    expect(await t.sql('SELECT id FROM customer')).toHaveLength(before.length);
    expect(codes(await t.request(CreateApiKeyDocument, { input: { name: 'x', role: 'ADMIN' } }, { key: app }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(IntegrationsDocument, {}, { key: partnerKey }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 's', baseUrl: 'https://api.stripe.com' } }, { key: app }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(CreateCustomerDocument, { input: { name: 'Partner write' } }, { key: partnerKey }))).toEqual(['FORBIDDEN']);
    // Operators read canonical data and manage integrations.
    expect((await t.request(CustomersDocument, {}, { key: operator })).body.errors).toBeUndefined();
    expect((await t.request(IntegrationsDocument, {}, { key: operator })).body.errors).toBeUndefined();
  });

  it('API keys are nodes for key managers only, and list their effective scopes', async () => {
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'narrow', role: 'APP', scopes: ['canonical:read'] } });
    expect(createApiKey.apiKey.scopes).toEqual(['canonical:read']);
    const node = await t.run(NodeDocument, { id: createApiKey.apiKey.id });
    expect(node.node).toMatchObject({ __typename: 'ApiKey', name: 'narrow', role: 'APP', scopes: ['canonical:read'] });
    expect(codes(await t.request(NodeDocument, { id: createApiKey.apiKey.id }, { key: partnerKey }))).toEqual(['FORBIDDEN']);
    // The narrowed key reads but cannot write, although APP keys normally can.
    expect(codes(await t.request(CreateCustomerDocument, { input: { name: 'Narrow write' } }, { key: createApiKey.key }))).toEqual(['FORBIDDEN']);
  });

  it('grants apply only to PARTNER keys, and must name existing customers', async () => {
    expect(codes(await t.request(CreateApiKeyDocument, { input: { name: 'x', role: 'APP', customerIds: [granted.customer] } }))).toEqual(['BAD_USER_INPUT']);
    const ghost = Buffer.from('Customer:01a20031-c7e7-7139-be23-000000000000').toString('base64url');
    expect(codes(await t.request(CreateApiKeyDocument, { input: { name: 'x', role: 'PARTNER', customerIds: [ghost] } }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('a PARTNER key sees only its granted customers, by every path', () => {
  const as = { key: '' };
  beforeAll(() => {
    as.key = partnerKey;
  });

  it('lists: customers, contracts, invoices', async () => {
    const customers = await t.run(CustomersDocument, {}, as);
    expect(customers.customers.edges.map((e) => e.node.id)).toEqual([granted.customer]);
    expect(customers.customers.totalCount).toBe(1);
    const contracts = await t.run(ContractsDocument, {}, as);
    expect(contracts.contracts.edges.map((e) => e.node.id)).toEqual([granted.contract]);
    const invoices = await t.run(InvoicePageDocument, {}, as);
    expect(invoices.invoices.edges.map((e) => e.node.id)).toEqual([granted.invoice]);
    // Filtering by a hidden customer finds nothing rather than the hidden rows.
    const filtered = await t.run(InvoicePageDocument, { filter: { customerId: hidden.customer } }, as);
    expect(filtered.invoices.totalCount).toBe(0);
  });

  it('by id and by node(id): granted rows answer, others are NOT_FOUND exactly like ids that do not exist', async () => {
    expect((await t.run(CustomerDocument, { id: granted.customer }, as)).customer.id).toBe(granted.customer);
    expect((await t.run(InvoiceDocument, { id: granted.invoice }, as)).invoice.id).toBe(granted.invoice);
    const ghostCustomer = Buffer.from('Customer:01a20031-c7e7-7139-be23-000000000000').toString('base64url');
    const missing = await t.request(CustomerDocument, { id: ghostCustomer }, as);
    for (const [doc, id] of [
      [CustomerDocument, hidden.customer],
      [ContractDocument, hidden.contract],
      [InvoiceDocument, hidden.invoice],
    ] as const) {
      const res = await t.request(doc as typeof CustomerDocument, { id }, as);
      expect(codes(res)).toEqual(['NOT_FOUND']);
      expect(res.body.data).toBeNull();
    }
    for (const id of [hidden.customer, hidden.contract, hidden.invoice]) {
      const res = await t.request(NodeDocument, { id }, as);
      expect(codes(res)).toEqual(['NOT_FOUND']);
      expect(res.body.data?.node ?? null).toBeNull();
    }
    // The answer for a hidden customer is the answer for one that does not exist: nothing leaks.
    const hiddenRes = await t.request(CustomerDocument, { id: hidden.customer }, as);
    expect(hiddenRes.body.errors![0].message).toBe(missing.body.errors![0].message.replace(ghostCustomer, hidden.customer));
    expect((await t.run(NodeDocument, { id: granted.invoice }, as)).node).toMatchObject({ __typename: 'Invoice', customer: { id: granted.customer } });
  });

  it('sees no personal fields (email, phone, tax id) unless the key was granted pii:read', async () => {
    const plain = await t.run(CustomerDocument, { id: granted.customer }, as);
    expect(plain.customer).toMatchObject({ name: 'Granted', email: null, phone: null, taxId: null });
    const { createApiKey } = await t.run(CreateApiKeyDocument, {
      input: { name: 'partner-pii', role: 'PARTNER', customerIds: [granted.customer], scopes: ['pii:read'] },
    });
    expect(createApiKey.apiKey.scopes).toEqual(['canonical:read', 'pii:read']);
    const withPii = await t.run(CustomerDocument, { id: granted.customer }, { key: createApiKey.key });
    expect(withPii.customer.email).toBe('granted@example.com');
    // Without pii:read, email cannot be probed through filters either.
    expect(codes(await t.request(CustomersDocument, { filter: { email: 'granted@example.com' } }, as))).toEqual(['FORBIDDEN']);
    expect((await t.run(CustomersDocument, { filter: { search: 'granted@' } }, as)).customers.totalCount).toBe(0);
    expect((await t.run(CustomersDocument, { filter: { search: 'granted@' } }, { key: createApiKey.key })).customers.totalCount).toBe(1);
    // A key cannot be given scopes beyond what its role may hold.
    const refused = await t.request(CreateApiKeyDocument, { input: { name: 'x', role: 'PARTNER', scopes: ['canonical:write'] } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.body.errors![0].extensions!.field).toBe('scopes');
  });

  it('nested fields stay inside the grant', async () => {
    const res = await t.run(CustomersWithRelationsDocument, { first: 10, invoicesFirst: 10 }, as);
    const nodes = res.customers.edges.map((e) => e.node);
    expect(nodes.map((n) => n.id)).toEqual([granted.customer]);
    expect(nodes[0].invoices.edges.map((e) => e.node.id)).toEqual([granted.invoice]);
    expect(nodes[0].contracts.edges.map((e) => e.node.id)).toEqual([granted.contract]);
  });
});
