import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CreateContractDocument, CreateCustomerWithJobsDocument, CreateIntegrationDocument, IntegrationDocument, PushCustomerDocument, UpdateCustomerDocument, UpdateIntegrationDocument } from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId, STRIPE_KEY, waitForJobs } from '../support/outbound.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CRM_SANDBOX_API_KEY, type CrmFake } from '../../src/providers/generic/fake.js';

let t: TestGateway;
let sandbox: Sandbox;
let crm: CrmFake;

beforeAll(async () => {
  sandbox = await startSandbox();
  crm = sandbox.crm.handler;
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});
beforeEach(() => sandbox.crm.reset());
/** Each test's auto-sync ends with it: later tests' customers go only to their own integrations. */
const autoSyncing: string[] = [];
afterEach(async () => {
  for (const id of autoSyncing.splice(0)) await t.run(UpdateIntegrationDocument, { id, input: { autoSync: [] } });
});

/** The custom CRM's shape: renamed fields, a nested contact, a label combining two fields, its own ids. */
const CUSTOMER_MAPPING = {
  method: 'PATCH',
  path: '/api/v2/clients/{externalId}',
  create: { method: 'POST', path: '/api/v2/clients' },
  body: `{
    "displayName": name,
    "contact": { "email": email, "phone": phone },
    "reference": customerId,
    "label": name & " <" & email & ">"
  }`,
  id: 'data.id',
};
const CONTRACT_MAPPING = {
  method: 'PATCH',
  path: '/api/v2/deals/{externalId}',
  create: { method: 'POST', path: '/api/v2/deals' },
  body: `{
    "title": title,
    "clientId": $customerExternalId,
    "value": amount ? { "amount": $number(amount), "currency": currency },
    "stage": $lookup({ "DRAFT": "open", "ACTIVE": "won", "SUSPENDED": "paused", "TERMINATED": "lost", "EXPIRED": "lost" }, status),
    "reference": contractId
  }`,
  id: 'data.id',
};

let n = 0;
async function crmIntegration(mappings: Record<string, unknown>, autoSync: Array<'Customer' | 'Contract'> = [], settings: Record<string, unknown> = {}) {
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: {
      provider: 'GENERIC',
      name: `Custom CRM ${++n}`,
      baseUrl: sandbox.crm.url,
      credentials: { headers: { 'X-Api-Key': CRM_SANDBOX_API_KEY } },
      mappings,
      autoSync,
      settings: { retryBaseDelayMs: 20, retryMaxDelayMs: 100, timeoutMs: 2000, ...settings },
    },
  });
  if (autoSync.length) autoSyncing.push(createIntegration.integration.id);
  return createIntegration.integration;
}

describe('GENERIC as a target: the custom CRM through mappings', () => {
  it('a mapping that renames and combines fields produces exactly the body the CRM expects; the next change updates the same client by its id', async () => {
    const crmInt = await crmIntegration({ 'customer.upsert': CUSTOMER_MAPPING }, ['Customer']);
    expect(crmInt.mappings).toMatchObject({ 'customer.upsert': { method: 'PATCH', id: 'data.id' } });
    const email = `grace.${Date.now()}@example.com`;
    const { createCustomer } = await t.run(CreateCustomerWithJobsDocument, { input: { name: 'Grace Hopper', email, phone: '+1 555 0142' } });
    await waitForJobs(t, createCustomer.jobs.map((j) => j.id));

    const [created] = sandbox.crm.requests;
    expect(created.method).toBe('POST');
    expect(created.path).toBe('/api/v2/clients');
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toStrictEqual({
      displayName: 'Grace Hopper',
      contact: { email, phone: '+1 555 0142' },
      reference: rowId(createCustomer.customer.id),
      label: `Grace Hopper <${email}>`,
    });
    expect(created.headers['idempotency-key']).toMatch(/^switchboard-/);
    const [client] = Object.values(crm.state().clients);
    const ref = await t.sql<{ external_id: string }>(`SELECT external_id FROM external_ref WHERE integration_id = $1 AND entity_id = $2`, [rowId(crmInt.id), rowId(createCustomer.customer.id)]);
    expect(ref.map((r) => r.external_id)).toEqual([client.id]);

    const { updateCustomer } = await t.run(UpdateCustomerDocument, { id: createCustomer.customer.id, input: { name: 'Rear Admiral Hopper', phone: null } });
    expect(updateCustomer.customer.version).toBe(2);
    await waitForJobs(t, (await t.sql<{ id: string }>(`SELECT id FROM integration_job WHERE integration_id = $1`, [rowId(crmInt.id)])).map((r) => r.id));
    const update = sandbox.crm.requests[1];
    expect([update.method, update.path, update.status]).toEqual(['PATCH', `/api/v2/clients/${client.id}`, 200]);
    expect(JSON.parse(update.body)).toStrictEqual({ displayName: 'Rear Admiral Hopper', contact: { email, phone: null }, reference: rowId(createCustomer.customer.id), label: `Rear Admiral Hopper <${email}>` });
    expect(Object.values(crm.state().clients)).toEqual([expect.objectContaining({ id: client.id, displayName: 'Rear Admiral Hopper', version: 2 })]);
  });

  it('contracts: the deal names the customer\'s CRM id ($customerExternalId), a converted value and a looked-up stage', async () => {
    const crmInt = await crmIntegration({ 'customer.upsert': CUSTOMER_MAPPING, 'contract.upsert': CONTRACT_MAPPING }, ['Customer', 'Contract']);
    const { createCustomer } = await t.run(CreateCustomerWithJobsDocument, { input: { name: 'Deal Holder', email: `deal.${Date.now()}@example.com` } });
    await waitForJobs(t, createCustomer.jobs.map((j) => j.id));
    const { createContract } = await t.run(CreateContractDocument, { input: { customerId: createCustomer.customer.id, title: 'Mainframe', status: 'ACTIVE', value: { amount: '2500.75', currency: 'EUR' } } });
    await waitForJobs(t, createContract.jobs.map((j) => j.id));
    const [client] = Object.values(crm.state().clients);
    const deal = sandbox.crm.requests.find((r) => r.path === '/api/v2/deals')!;
    expect(JSON.parse(deal.body)).toStrictEqual({ title: 'Mainframe', clientId: client.id, value: { amount: 2500.75, currency: 'EUR' }, stage: 'won', reference: rowId(createContract.contract.id) });
    expect((await t.run(IntegrationDocument, { id: crmInt.id })).integration.autoSync).toEqual(['Customer', 'Contract']);
  });

  it('a body the CRM refuses (422) fails the job at once; a 429 is retried with the same Idempotency-Key and makes one client', async () => {
    const wrongShape = await crmIntegration({ 'customer.upsert': { ...CUSTOMER_MAPPING, body: '{ "name": name, "reference": customerId }' } });
    const { createCustomer } = await t.run(CreateCustomerWithJobsDocument, { input: { name: 'Shape Tester', email: `shape.${Date.now()}@example.com` } });
    const refused = (await t.run(PushCustomerDocument, { customerId: createCustomer.customer.id, integrationId: wrongShape.id })).pushCustomer.job;
    await waitForJobs(t, [refused.id]);
    const [row] = await t.sql<{ status: string; attempts: number; last_error: string }>(`SELECT status, attempts, last_error FROM integration_job WHERE id = $1`, [rowId(refused.id)]);
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(row.last_error).toMatch(/POST \/api\/v2\/clients answered 422: .*unknown field name/);

    const right = await crmIntegration({ 'customer.upsert': CUSTOMER_MAPPING });
    sandbox.crm.setFaults({ burst429: 2, retryAfterSeconds: 0 });
    const job = (await t.run(PushCustomerDocument, { customerId: createCustomer.customer.id, integrationId: right.id })).pushCustomer.job;
    await waitForJobs(t, [job.id]);
    const posts = sandbox.crm.requests.filter((r) => r.method === 'POST' && r.path === '/api/v2/clients').slice(-3);
    expect(posts.map((r) => r.status)).toEqual([429, 429, 201]);
    expect(new Set(posts.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(Object.values(crm.state().createdPerKey)).toEqual([1]);
  });
});

describe('mappings are validated when saved', () => {
  const create = (mappings: unknown, extra: Record<string, unknown> = {}) =>
    t.request(CreateIntegrationDocument, { input: { provider: 'GENERIC', name: 'Refused CRM', baseUrl: sandbox.crm.url, credentials: { headers: { 'X-Api-Key': CRM_SANDBOX_API_KEY } }, mappings, ...extra } as never });
  const integrationsNamed = async (name: string) => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration WHERE name = $1`, [name]))[0].n;

  it('an invalid JSONata expression is BAD_USER_INPUT naming the operation and field, and nothing is saved', async () => {
    const res = await create({ 'customer.upsert': { ...CUSTOMER_MAPPING, body: '{ "displayName": name ' } });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0].message).toMatch(/mappings\.customer\.upsert\.body is not a valid JSONata expression for operation customer\.upsert/);
    expect(res.body.errors![0].extensions).toMatchObject({ field: 'mappings.customer.upsert.body' });
    expect(await integrationsNamed('Refused CRM')).toBe(0);

    const badId = await create({ 'contract.upsert': { ...CONTRACT_MAPPING, id: 'data.[id' } });
    expect(codes(badId)).toEqual(['BAD_USER_INPUT']);
    expect(badId.body.errors![0].extensions).toMatchObject({ field: 'mappings.contract.upsert.id' });
    expect(badId.body.errors![0].message).toMatch(/contract\.upsert/);
  });

  it('an expression that fails on a sample record, a path that needs an id without a create route, an unknown operation: each refused', async () => {
    const unknownFunction = await create({ 'customer.upsert': { ...CUSTOMER_MAPPING, body: '{ "displayName": $shout(name) }' } });
    expect(unknownFunction.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'mappings.customer.upsert.body' } });
    expect(unknownFunction.body.errors![0].message).toMatch(/failed on a sample record/);
    const notAnObject = await create({ 'customer.upsert': { ...CUSTOMER_MAPPING, body: 'name' } });
    expect(notAnObject.body.errors![0].message).toMatch(/must produce a JSON object or array/);
    const { create: _create, ...noCreate } = CUSTOMER_MAPPING;
    const needsCreate = await create({ 'customer.upsert': noCreate });
    expect(needsCreate.body.errors![0]).toMatchObject({ extensions: { field: 'mappings.customer.upsert.create' } });
    const badVariable = await create({ 'customer.upsert': { ...CUSTOMER_MAPPING, path: '/api/v2/clients/{email}' } });
    expect(badVariable.body.errors![0].message).toMatch(/\{email\} is not one of/);
    const otherHost = await create({ 'customer.upsert': { ...CUSTOMER_MAPPING, path: '@evil.example.com/x' } });
    expect(otherHost.body.errors![0]).toMatchObject({ extensions: { field: 'mappings.customer.upsert.path' } });
    const unknownOp = await create({ 'invoice.send': CUSTOMER_MAPPING });
    expect(unknownOp.body.errors![0]).toMatchObject({ extensions: { field: 'mappings.invoice.send' } });
    const autoSyncWithoutMapping = await create({ 'customer.upsert': CUSTOMER_MAPPING }, { autoSync: ['Contract'] });
    expect(autoSyncWithoutMapping.body.errors![0].message).toMatch(/auto-syncs Contract only with a mapping for contract\.upsert/);
    const reservedHeader = await t.request(CreateIntegrationDocument, { input: { provider: 'GENERIC', name: 'Refused CRM', baseUrl: sandbox.crm.url, credentials: { headers: { Host: 'evil.example.com' } } } });
    expect(reservedHeader.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'credentials.headers.Host' } });
    const stripeMappings = await t.request(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 'Refused CRM', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, mappings: { 'customer.upsert': CUSTOMER_MAPPING } } });
    expect(stripeMappings.body.errors![0].message).toMatch(/STRIPE integrations take no mappings/);
    expect(await integrationsNamed('Refused CRM')).toBe(0);

    // A webhook-only GENERIC integration (no mappings) refuses a push instead of failing its job later.
    const inbox = await crmIntegration({});
    const { createCustomer } = await t.run(CreateCustomerWithJobsDocument, { input: { name: 'Not Mapped', email: `unmapped.${Date.now()}@example.com` } });
    const push = await t.request(PushCustomerDocument, { customerId: createCustomer.customer.id, integrationId: inbox.id });
    expect(push.body.errors![0]).toMatchObject({ message: expect.stringMatching(/has no mapping for customer\.upsert/), extensions: { code: 'BAD_USER_INPUT', field: 'integrationId' } });
  });

  it('updateIntegration validates the same way and keeps the saved mappings on refusal; dropping a mapping auto-sync uses is refused', async () => {
    const crmInt = await crmIntegration({ 'customer.upsert': CUSTOMER_MAPPING }, ['Customer']);
    const refused = await t.request(UpdateIntegrationDocument, { id: crmInt.id, input: { mappings: { 'customer.upsert': { ...CUSTOMER_MAPPING, id: 'data.[id' } } } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.body.errors![0].message).toMatch(/customer\.upsert/);
    const dropped = await t.request(UpdateIntegrationDocument, { id: crmInt.id, input: { mappings: null } });
    expect(dropped.body.errors![0].message).toMatch(/auto-syncs Customer only with a mapping for customer\.upsert/);
    expect((await t.run(IntegrationDocument, { id: crmInt.id })).integration.mappings).toMatchObject({ 'customer.upsert': { body: CUSTOMER_MAPPING.body } });
    const changed = await t.run(UpdateIntegrationDocument, { id: crmInt.id, input: { autoSync: [], mappings: { 'customer.upsert': { ...CUSTOMER_MAPPING, id: 'data.ref' } } } });
    expect(changed.updateIntegration.integration.mappings).toMatchObject({ 'customer.upsert': { id: 'data.ref' } });
    const [audit] = await t.sql<{ changes: any }>(`SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'updateIntegration' ORDER BY "timestamp" DESC LIMIT 1`, [rowId(crmInt.id)]);
    expect(JSON.stringify(audit.changes)).toContain('data.ref');
    expect(JSON.stringify(audit.changes)).not.toContain(CRM_SANDBOX_API_KEY);
  });
});
