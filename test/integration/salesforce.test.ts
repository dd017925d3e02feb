import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CustomerWithRefsDocument,
  CreateContractDocument,
  CreateCustomerDocument,
  CreateIntegrationDocument,
  InboundLogsDocument,
  PushCustomerDocument,
  PushCustomersDocument,
  RotateSecretWithGraceDocument,
  UpdateContractDocument,
  UpdateCustomerDocument,
  UpdateIntegrationDocument,
} from '../generated/graphql.js';
import { codes, scrapeMetrics, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { post, waitProcessed } from '../support/webhooks.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, fakeSalesforceId, type SalesforceFake } from '../../src/providers/salesforce/fake.js';
import { outboundMessageXml } from '../../src/providers/salesforce/soap.js';
import { query, queryMore, EXTERNAL_ID_FIELD } from '../../src/providers/salesforce/api.js';
import type { HttpExchange } from '../../src/providers/connector.js';

let t: TestGateway;
let sandbox: Sandbox;
let fake: SalesforceFake;
const CREDENTIALS = { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET };
const FAST = { retryBaseDelayMs: 20, retryMaxDelayMs: 200, timeoutMs: 2000 };

beforeAll(async () => {
  sandbox = await startSandbox();
  fake = sandbox.salesforce.handler;
  // Salesforce owns what its Outbound Messages assert here (by default the CRM that owns names is HubSpot).
  t = await startTestGateway({ FIELD_OWNERSHIP: '{"customer.name":"SALESFORCE","customer.phone":"SALESFORCE","contract.status":"SALESFORCE"}' });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});
beforeEach(() => sandbox.salesforce.reset());
/** Each test's auto-sync ends with it: later tests' customers go only where they are pushed. */
const autoSyncing: string[] = [];
afterEach(async () => {
  for (const id of autoSyncing.splice(0)) await t.run(UpdateIntegrationDocument, { id, input: { autoSync: [] } });
});

let n = 0;
async function salesforce(settings: Record<string, unknown> = {}, autoSync: Array<'Customer' | 'Contract'> = []) {
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'SALESFORCE', name: `Salesforce ${++n}`, baseUrl: sandbox.salesforce.url, credentials: CREDENTIALS, webhookSecret: fake.organizationId, settings: { ...FAST, ...settings }, autoSync },
  });
  if (autoSync.length) autoSyncing.push(createIntegration.integration.id);
  return { ...createIntegration.integration, row: rowId(createIntegration.integration.id) };
}

const newCustomer = async (name: string, phone: string | null = '+1 555 0100') =>
  (await t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com`, phone } })).createCustomer.customer.id;

const jobRows = (ids: string[]) => t.sql<{ id: string; status: string; attempts: number; last_error: string | null; result: any }>(`SELECT id, status, attempts, last_error, result FROM integration_job WHERE id = ANY($1)`, [ids.map(rowId)]);
const accounts = () => Object.values(fake.state().accounts);
const tokenRequests = (metrics: string, reason: string) => Number(new RegExp(`switchboard_provider_token_requests_total\\{provider="SALESFORCE",reason="${reason}",outcome="success"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);

describe('Salesforce outbound: Accounts and Opportunities upserted by Switchboard_Id__c', () => {
  it('a push creates the Account (201) and links it; the next push updates the same Account (204) by the external id', async () => {
    const sf = await salesforce();
    const customerId = await newCustomer('Ada Account');
    const first = (await t.run(PushCustomerDocument, { customerId, integrationId: sf.id })).pushCustomer.job;
    await waitForJobs(t, [first.id]);
    const [account] = accounts();
    expect(account).toMatchObject({ Name: 'Ada Account', Phone: '+1 555 0100', [EXTERNAL_ID_FIELD]: rowId(customerId) });
    const patch = sandbox.salesforce.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.path).toBe(`/services/data/v62.0/sobjects/Account/Switchboard_Id__c/${rowId(customerId)}`);
    expect(JSON.parse(patch.body)).toEqual({ Name: 'Ada Account', Phone: '+1 555 0100' });
    expect(patch.headers['sforce-call-options']).toBe('client=switchboard');
    expect((await jobRows([first.id]))[0]).toMatchObject({ status: 'COMPLETED', attempts: 1, result: { salesforceAccountId: account.Id, created: true } });

    await t.run(UpdateCustomerDocument, { id: customerId, input: { name: 'Ada Renamed', phone: null } });
    const second = (await t.run(PushCustomerDocument, { customerId, integrationId: sf.id })).pushCustomer.job;
    await waitForJobs(t, [second.id]);
    expect(accounts()).toHaveLength(1);
    expect(accounts()[0]).toMatchObject({ Id: account.Id, Name: 'Ada Renamed', Phone: null });
    expect(sandbox.salesforce.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([201, 204]);
    expect((await jobRows([second.id]))[0]).toMatchObject({ status: 'COMPLETED', result: { salesforceAccountId: account.Id, created: false } });
    const { customer } = await t.run(CustomerWithRefsDocument, { id: customerId });
    expect(customer.externalRefs.filter((r) => r.provider === 'SALESFORCE').map((r) => r.externalId)).toEqual([account.Id]);
  });

  it('an expired session mid-run is renewed once for all the jobs that met it, and no attempt is spent', async () => {
    const sf = await salesforce({ requestsPerSecond: 100, concurrency: 10 });
    const warm = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Warm Up'), integrationId: sf.id })).pushCustomer.job;
    await waitForJobs(t, [warm.id]);
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await newCustomer(`Expiry ${i}`));
    const before = { issued: fake.state().tokensIssued, metric: tokenRequests(await scrapeMetrics(t.url, t.adminKey), 'expired') };
    // Every answer takes 150 ms: the six calls are in flight together when they meet the ended session.
    sandbox.salesforce.setFaults({ latencyMs: 150 });
    fake.expireSessions();
    const { pushCustomers } = await t.run(PushCustomersDocument, { customerIds: ids, integrationId: sf.id });
    await waitForJobs(t, pushCustomers.jobs.map((j) => j.id));

    const rows = await jobRows(pushCustomers.jobs.map((j) => j.id));
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(rows.map(() => ['COMPLETED', 1]));
    expect(fake.state().expiredSessionRefusals).toBeGreaterThanOrEqual(2);
    expect(fake.state().tokensIssued - before.issued).toBe(1);
    expect(tokenRequests(await scrapeMetrics(t.url, t.adminKey), 'expired') - before.metric).toBe(1);
    expect(accounts()).toHaveLength(7);
  });

  it('a 300 (two Accounts carry the external id) fails the job at once, final, and says to merge them', async () => {
    const sf = await salesforce();
    const customerId = await newCustomer('Twice Linked');
    fake.duplicateExternalId('Account', rowId(customerId));
    fake.duplicateExternalId('Account', rowId(customerId));
    const job = (await t.run(PushCustomerDocument, { customerId, integrationId: sf.id })).pushCustomer.job;
    await waitForJobs(t, [job.id]);
    const [row] = await jobRows([job.id]);
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(row.last_error).toMatch(/Salesforce 300: 2 records carry this external id; merge them/);
  });

  it('REQUEST_LIMIT_EXCEEDED holds every call of the integration: the refused job waits to retry, and a new job is not even started', async () => {
    const sf = await salesforce();
    fake.setApiUsage(15_000, 15_000);
    const refused = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Over Quota'), integrationId: sf.id })).pushCustomer.job;
    const [retrying] = await until(async () => {
      const rows = await jobRows([refused.id]);
      return rows[0].status === 'RETRYING' ? rows : null;
    });
    expect(retrying.last_error).toMatch(/Salesforce 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded/);
    // The hold: a minute, at most half the slot lease (timeoutMs 2000 here: (2000 x 8 + 10000) / 2 ms).
    const [{ wait_ms }] = await t.sql<{ wait_ms: number }>(`SELECT EXTRACT(EPOCH FROM tat - clock_timestamp()) * 1000 AS wait_ms FROM integration_throttle WHERE integration_id = $1`, [sf.row]);
    expect(Number(wait_ms)).toBeGreaterThan(10_000);
    expect(Number(wait_ms)).toBeLessThanOrEqual(13_000);
    const [next] = await t.sql<{ next_attempt_at: Date }>(`SELECT next_attempt_at FROM integration_job WHERE id = $1`, [rowId(refused.id)]);
    expect(next.next_attempt_at.getTime() - Date.now()).toBeGreaterThan(30_000);

    const waiting = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Behind The Hold'), integrationId: sf.id })).pushCustomer.job;
    const requestsBefore = sandbox.salesforce.requests.length;
    // Another integration's job, enqueued after it, completes: the worker fetched past the held one.
    const other = await salesforce();
    fake.setApiUsage(0);
    const marker = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Other Org'), integrationId: other.id })).pushCustomer.job;
    await waitForJobs(t, [marker.id]);
    expect((await jobRows([waiting.id]))[0]).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect(sandbox.salesforce.requests.slice(requestsBefore).every((r) => !r.body.includes('Behind The Hold'))).toBe(true);
  });

  it('Sforce-Limit-Info past 90 % of the allocation spaces the next call at the allocation pace (capped)', async () => {
    const sf = await salesforce();
    fake.setApiUsage(94, 100);
    const job = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Near Quota'), integrationId: sf.id })).pushCustomer.job;
    await waitForJobs(t, [job.id]);
    expect((await jobRows([job.id]))[0].status).toBe('COMPLETED');
    // 86,400,000 ms / 100 calls, capped at half the slot lease.
    const [{ wait_ms }] = await t.sql<{ wait_ms: number }>(`SELECT EXTRACT(EPOCH FROM tat - clock_timestamp()) * 1000 AS wait_ms FROM integration_throttle WHERE integration_id = $1`, [sf.row]);
    expect(Number(wait_ms)).toBeGreaterThan(10_000);

    const below = await salesforce();
    fake.setApiUsage(10, 100);
    const calm = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Far From Quota'), integrationId: below.id })).pushCustomer.job;
    await waitForJobs(t, [calm.id]);
    const [row] = await t.sql<{ wait_ms: number }>(`SELECT EXTRACT(EPOCH FROM tat - clock_timestamp()) * 1000 AS wait_ms FROM integration_throttle WHERE integration_id = $1`, [below.row]);
    expect(Number(row.wait_ms)).toBeLessThan(1_000);
  });

  it('contract.upsert: an Opportunity on the customer\'s Account; an undated contract gets a close date only when created', async () => {
    const sf = await salesforce({}, ['Customer', 'Contract']);
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Opportunity Owner', email: `opp.${Date.now()}@example.com` } });
    await until(async () => (await t.sql(`SELECT 1 FROM external_ref WHERE integration_id = $1 AND entity_type = 'Customer'`, [sf.row])).length === 1);
    const { createContract } = await t.run(CreateContractDocument, {
      input: { customerId: createCustomer.customer.id, title: 'Support 2027', status: 'DRAFT', value: { amount: '1200.50', currency: 'USD' } },
    });
    await waitForJobs(t, createContract.jobs.map((j) => j.id));
    const account = accounts()[0];
    const [opportunity] = Object.values(fake.state().opportunities);
    const today = new Date().toISOString().slice(0, 10);
    expect(opportunity).toMatchObject({ Name: 'Support 2027', StageName: 'Prospecting', Amount: 1200.5, CloseDate: today, AccountId: account.Id, [EXTERNAL_ID_FIELD]: rowId(createContract.contract.id) });
    const patches = () => sandbox.salesforce.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/Opportunity/'));
    // Without a close date Salesforce refuses the create; the connector sends today's date then.
    expect(patches().map((r) => [r.status, 'CloseDate' in JSON.parse(r.body)])).toEqual([
      [400, false],
      [201, true],
    ]);

    const { updateContract } = await t.run(UpdateContractDocument, { id: createContract.contract.id, input: { title: 'Support 2027 (renewed)', status: 'ACTIVE' } });
    expect(updateContract.contract.version).toBe(2);
    await until(async () => (Object.values(fake.state().opportunities)[0].Name === 'Support 2027 (renewed)' ? true : null));
    expect(Object.values(fake.state().opportunities)).toHaveLength(1);
    expect(Object.values(fake.state().opportunities)[0]).toMatchObject({ StageName: 'Closed Won', CloseDate: today, IsWon: true });
    expect('CloseDate' in JSON.parse(patches().at(-1)!.body)).toBe(false);
  });
});

describe('Salesforce inbound: Outbound Messages', () => {
  const accountMessage = (organizationId: string, notificationId: string, fields: Record<string, string | null>) =>
    outboundMessageXml({ organizationId, actionId: '04k5e000000GmaDAAS', notifications: [{ id: notificationId, sObjectType: 'Account', fields }] });
  const soap = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
  const stored = async (row: string) => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1`, [row]))[0].n;

  it('webhookUrl ends in the token the gateway made; a wrong or missing token, or another organisation, is 401 and stores nothing', async () => {
    const sf = await salesforce();
    const url = new URL(sf.webhookUrl);
    expect(url.pathname).toBe(`/webhooks/${sf.row}`);
    expect(url.searchParams.get('token')).toMatch(/^[\w-]{43}$/);
    const body = accountMessage(fake.organizationId, fakeSalesforceId('04l'), { Id: fakeSalesforceId('001'), Name: 'Intruder' });
    const base = `${t.url}/webhooks/${sf.row}`;
    for (const target of [base, `${base}?token=${'x'.repeat(43)}`, `${base}?token=${url.searchParams.get('token')!.slice(1)}`]) {
      const res = await post(target, body, soap);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_signature');
    }
    const otherOrg = await post(sf.webhookUrl, accountMessage(fakeSalesforceId('00D'), fakeSalesforceId('04l'), { Id: fakeSalesforceId('001'), Name: 'Other org' }), soap);
    expect(otherOrg.status).toBe(401);
    expect(otherOrg.body.message).toMatch(/OrganizationId/);
    expect(await stored(sf.row)).toBe(0);
    const { integrationLogs } = await t.run(InboundLogsDocument, { filter: { integrationId: sf.id } });
    expect(integrationLogs.edges.map((e) => e.node)).toEqual([expect.objectContaining({ status: 'FAILED', eventType: 'webhook.rejected', httpStatus: 401 })]);
    // The token is not in the log row, nor in the audit trail.
    const token = url.searchParams.get('token')!;
    expect(JSON.stringify(await t.sql(`SELECT * FROM integration_log WHERE integration_id = $1`, [sf.row]))).not.toContain(token);
    expect(JSON.stringify(await t.sql(`SELECT changes FROM audit_log WHERE target_id = $1`, [sf.row]))).not.toContain(token);
  });

  it('a notification delivered twice is stored once, and each delivery is acknowledged with the SOAP Ack after the commit', async () => {
    const sf = await salesforce();
    const first = fakeSalesforceId('04l');
    const account = fakeSalesforceId('001');
    const body = accountMessage(fake.organizationId, first, { Id: account, Name: 'Twice Delivered', SystemModstamp: new Date().toISOString() });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(sf.webhookUrl, { method: 'POST', headers: soap, body });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/xml; charset=utf-8');
      expect(await res.text()).toContain('<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>');
    }
    // A retry that batches the stored notification with a new one stores only the new one.
    const second = fakeSalesforceId('04l');
    const batch = outboundMessageXml({
      organizationId: fake.organizationId,
      actionId: '04k5e000000GmaDAAS',
      notifications: [
        { id: first, sObjectType: 'Account', fields: { Id: account, Name: 'Twice Delivered' } },
        { id: second, sObjectType: 'Account', fields: { Id: fakeSalesforceId('001'), Name: 'Batched' } },
      ],
    });
    expect((await fetch(sf.webhookUrl, { method: 'POST', headers: soap, body: batch })).status).toBe(200);
    const rows = await t.sql<{ external_event_id: string }>(`SELECT external_event_id FROM webhook_event WHERE integration_id = $1 ORDER BY received_at`, [sf.row]);
    expect(rows.map((r) => r.external_event_id)).toEqual([first, second]);
    await waitProcessed(t, sf.row, [first, second]);
    const customers = await t.sql<{ name: string }>(`SELECT c.name FROM customer c JOIN external_ref r ON r.entity_id = c.id WHERE r.integration_id = $1 ORDER BY c.name`, [sf.row]);
    expect(customers.map((c) => c.name)).toEqual(['Batched', 'Twice Delivered']);
  });

  it('records changed in Salesforce arrive as Outbound Messages: an Account becomes a customer, an Opportunity a contract; an older notification does not undo a newer one', async () => {
    const sf = await salesforce();
    fake.setWebhook({ url: sf.webhookUrl });
    const accountId = fake.userChange('Account', { Name: 'Made In Salesforce', Phone: '+1 555 0199' });
    const customer = await until(async () => (await t.sql<{ id: string; name: string; phone: string }>(`SELECT c.id, c.name, c.phone FROM customer c JOIN external_ref r ON r.entity_id = c.id WHERE r.integration_id = $1 AND r.external_id = $2`, [sf.row, accountId]))[0]);
    expect(customer).toMatchObject({ name: 'Made In Salesforce', phone: '+1 555 0199' });
    expect(fake.deliveries[0]).toMatchObject({ status: 200, acked: true });

    fake.userChange('Account', { Name: 'Renamed In Salesforce' }, accountId);
    await until(async () => (await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customer.id]))[0].name === 'Renamed In Salesforce');

    // A late redelivery of an older state (SystemModstamp before the rename) changes nothing.
    const stale = accountMessage(fake.organizationId, fakeSalesforceId('04l'), { Id: accountId, Name: 'Made In Salesforce', SystemModstamp: new Date(Date.now() - 60_000).toISOString() });
    const staleId = /<Notification><Id>(\w+)<\/Id>/.exec(stale)![1];
    expect((await post(sf.webhookUrl, stale, soap)).status).toBe(200);
    await waitProcessed(t, sf.row, [staleId]);
    expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customer.id]))[0].name).toBe('Renamed In Salesforce');

    const opportunityId = fake.userChange('Opportunity', { Name: 'Engine Deal', StageName: 'Negotiation/Review', Amount: 48000, CloseDate: '2027-03-31', AccountId: accountId });
    const contract = await until(async () => (await t.sql<{ id: string; title: string; status: string; end_date: Date; customer_id: string }>(`SELECT k.id, k.title, k.status, k.end_date, k.customer_id FROM contract k JOIN external_ref r ON r.entity_id = k.id WHERE r.integration_id = $1 AND r.external_id = $2`, [sf.row, opportunityId]))[0]);
    expect(contract).toMatchObject({ title: 'Engine Deal', status: 'SUSPENDED', customer_id: customer.id });
    expect(contract.end_date.toISOString()).toBe('2027-03-31T00:00:00.000Z');
    fake.userChange('Opportunity', { StageName: 'Closed Won' }, opportunityId);
    await until(async () => (await t.sql<{ status: string }>(`SELECT status FROM contract WHERE id = $1`, [contract.id]))[0].status === 'ACTIVE');
  });

  it('the literal fixtures: an Account, then an Opportunity on it, become a customer and its contract', async () => {
    const xml = (name: string) => readFileSync(new URL(`../../src/providers/salesforce/fixtures/${name}`, import.meta.url), 'utf8');
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'SALESFORCE', name: 'Acme org', baseUrl: sandbox.salesforce.url, credentials: CREDENTIALS, webhookSecret: '00D000000000062' },
    });
    const row = rowId(createIntegration.integration.id);
    for (const name of ['account.notification.xml', 'opportunity.notification.xml']) {
      const res = await post(createIntegration.integration.webhookUrl, xml(name), soap);
      expect(res.status).toBe(200);
      await waitProcessed(t, row, [/<Notification>\s*<Id>(\w+)<\/Id>/.exec(xml(name))![1]]);
    }
    const [contract] = await t.sql<{ title: string; status: string; end_date: Date; value_minor: string | null; customer: string }>(
      `SELECT k.title, k.status, k.end_date, k.value_minor, c.name AS customer FROM contract k JOIN customer c ON c.id = k.customer_id
        JOIN external_ref r ON r.entity_id = k.id WHERE r.integration_id = $1 AND r.external_id = '0065e00000Jb7TfAAJ'`,
      [row],
    );
    // No currency on the customer nor CurrencyIsoCode in the message: the amount is not guessed.
    expect(contract).toMatchObject({ title: 'Difference Engine No. 2', status: 'SUSPENDED', value_minor: null, customer: 'Babbage & Lovelace Ltd' });
    expect(contract.end_date.toISOString()).toBe('2027-03-31T00:00:00.000Z');
  });

  it('rotateIntegrationSecret issues a new URL token; with no grace the previous URL stops at once', async () => {
    const sf = await salesforce();
    const { rotateIntegrationSecret } = await t.run(RotateSecretWithGraceDocument, { id: sf.id, webhookSecret: fake.organizationId.slice(0, 15), graceSeconds: 0 });
    expect(rotateIntegrationSecret.integration.webhookUrl).not.toBe(sf.webhookUrl);
    const body = () => accountMessage(fake.organizationId, fakeSalesforceId('04l'), { Id: fakeSalesforceId('001'), Name: 'After Rotation' });
    // The gateway's cache of the integration is dropped by the rotation's notification.
    await until(async () => (await post(sf.webhookUrl, body(), soap)).status === 401);
    expect((await post(rotateIntegrationSecret.integration.webhookUrl, body(), soap)).status).toBe(200);

    const refused = await t.request(CreateIntegrationDocument, { input: { provider: 'SALESFORCE', name: 'Bad org', baseUrl: sandbox.salesforce.url, credentials: CREDENTIALS, webhookSecret: '001A0000006Vm9rIAC' } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.body.errors![0].message).toMatch(/organisation id/);
    const noSecret = await t.request(CreateIntegrationDocument, { input: { provider: 'SALESFORCE', name: 'Bad creds', baseUrl: sandbox.salesforce.url, credentials: { apiKey: 'x' } } });
    expect(codes(noSecret)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('the API client as a poller uses it', () => {
  it('query() and queryMore() page a SOQL result ordered by SystemModstamp and Id', async () => {
    for (let i = 0; i < 5; i++) fake.userChange('Account', { Name: `Polled ${i}` });
    fake.queryBatchSize = 2;
    const ctx = { baseUrl: sandbox.salesforce.url, credentials: CREDENTIALS, timeoutMs: 2000, refs: async () => null, outbound: t.gateway.services.outbound };
    const log: HttpExchange[] = [];
    const names: string[] = [];
    let page = await query<{ Id: string; Name: string }>(ctx, 'SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp, Id LIMIT 200', log);
    names.push(...page.records.map((r) => r.Name));
    while (page.nextRecordsUrl) {
      page = await queryMore<{ Id: string; Name: string }>(ctx, page.nextRecordsUrl, log);
      names.push(...page.records.map((r) => r.Name));
    }
    expect(names).toEqual(['Polled 0', 'Polled 1', 'Polled 2', 'Polled 3', 'Polled 4']);
    expect(log.filter((e) => e.path.includes('/query') && e.status === 200).length).toBe(3);
  });
});
