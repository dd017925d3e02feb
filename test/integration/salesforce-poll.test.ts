import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CreateCustomerDocument, CreateIntegrationDocument, RehydrateDocument, UpdateIntegrationDocument, StartSyncDocument, SyncRunNodeDocument, type SyncRunFieldsFragment } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { post, waitProcessed } from '../support/webhooks.js';
import { until } from '../support/processes.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { outboundMessageXml } from '../../src/providers/salesforce/soap.js';
import { fakeSalesforceId, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, type SalesforceFake } from '../../src/providers/salesforce/fake.js';
import { toGlobalId } from '../../src/domain/shared/ids.js';

let t: TestGateway;
let sandbox: Sandbox;
let fake: SalesforceFake;
const CREDENTIALS = { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET };

beforeAll(async () => {
  sandbox = await startSandbox();
  fake = sandbox.salesforce.handler;
  // Salesforce owns what it asserts about accounts and opportunities here.
  t = await startTestGateway({ FIELD_OWNERSHIP: '{"customer.name":"SALESFORCE","customer.phone":"SALESFORCE","contract.title":"SALESFORCE","contract.status":"SALESFORCE","contract.endDate":"SALESFORCE"}' });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});
beforeEach(() => sandbox.salesforce.reset());

let n = 0;
async function salesforce(autoSync: Array<'Customer' | 'Contract'> = []) {
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: {
      autoSync,
      provider: 'SALESFORCE',
      name: `Salesforce poll ${++n}`,
      baseUrl: sandbox.salesforce.url,
      credentials: CREDENTIALS,
      webhookSecret: fake.organizationId,
      settings: { requestsPerSecond: 200, timeoutMs: 5000, retryBaseDelayMs: 20, retryMaxDelayMs: 200 },
    },
  });
  return { id: createIntegration.integration.id, row: rowId(createIntegration.integration.id), webhookUrl: createIntegration.integration.webhookUrl! };
}

async function runSync(integrationId: string, resource: string, mode: 'FULL' | 'INCREMENTAL'): Promise<SyncRunFieldsFragment> {
  const { startSync } = await t.run(StartSyncDocument, { integrationId, resource, mode });
  const run = await until(
    async () => {
      const { node } = await t.run(SyncRunNodeDocument, { id: startSync.syncRun.id });
      return node?.__typename === 'SyncRun' && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(node.status) ? node : null;
    },
    120_000,
    100,
  );
  expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED' });
  return run;
}

/** The SOQL of every query the fake answered since the last reset (first pages only), and the other REST paths. */
const soqlSent = () =>
  sandbox.salesforce.requests.filter((r) => r.path.includes('/query?q=') && r.status === 200).map((r) => decodeURIComponent(r.path.slice(r.path.indexOf('q=') + 2)));
const restPaths = (part: string) => sandbox.salesforce.requests.filter((r) => r.path.includes(part) && r.status === 200).map((r) => r.path);

async function linkedCustomers(row: string) {
  const rows = await t.sql<{ external_id: string; id: string; name: string; phone: string | null; deleted: boolean; version: number }>(
    `SELECT r.external_id, c.id, c.name, c.phone, r.deleted_at IS NOT NULL AS deleted, c.version FROM external_ref r JOIN customer c ON c.id = r.entity_id
      WHERE r.integration_id = $1 AND r.entity_type = 'Customer'`,
    [row],
  );
  return new Map(rows.map((r) => [r.external_id, r]));
}

describe('Salesforce polling through SOQL', () => {
  it('a FULL run of 2,300 accounts pages with nextRecordsUrl and a new query after each 2,000 rows, links 2,300 customers; run again, it changes nothing', async () => {
    const sf = await salesforce();
    fake.queryBatchSize = 1_000;
    const ids = fake.seedRecords('Account', 2_300, (i) => ({ Name: `Polled ${i}`, Phone: `+1 555 ${String(i).padStart(7, '0')}` }));
    const first = await runSync(sf.id, 'accounts', 'FULL');
    expect(first).toMatchObject({ mode: 'FULL', pages: 3, recordsSeen: 2_300, recordsChanged: 2_300, recordsDeleted: 0 });

    // One query from the start, its second batch by locator, then a query after the 2,000th row.
    const soql = soqlSent();
    expect(soql).toHaveLength(2);
    expect(soql[0]).toBe(`SELECT Id, Name, Phone, Switchboard_Id__c, SystemModstamp FROM Account ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000`);
    const rows = Object.values(fake.state().accounts).sort((a, b) => String(a.SystemModstamp).localeCompare(String(b.SystemModstamp)) || (String(a.Id) < String(b.Id) ? -1 : 1));
    const at2000 = rows[1_999];
    const stamp = `${String(at2000.SystemModstamp).slice(0, 19)}Z`;
    expect(soql[1]).toBe(
      `SELECT Id, Name, Phone, Switchboard_Id__c, SystemModstamp FROM Account WHERE SystemModstamp > ${stamp} OR (SystemModstamp = ${stamp} AND Id > '${String(at2000.Id)}') ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000`,
    );
    expect(restPaths('/query/01g')).toHaveLength(1);

    const model = await linkedCustomers(sf.row);
    expect(model.size).toBe(2_300);
    expect(new Set([...model.values()].map((c) => c.id)).size).toBe(2_300);
    expect(model.get(ids[7])).toMatchObject({ name: 'Polled 7', phone: '+1 555 0000007', deleted: false });
    const [origin] = await t.sql<{ source: string }>(`SELECT field_origins->'name'->>'source' AS source FROM customer WHERE id = $1`, [model.get(ids[7])!.id]);
    expect(origin.source).toBe('POLL');
    // The checkpoint: the newest (SystemModstamp, Id) read, and deletions from when the run began.
    const last = rows.at(-1)!;
    expect(first.checkpoint).toMatchObject({ ts: Date.parse(String(last.SystemModstamp)), id: last.Id });

    const versions = [...model.values()].reduce((sum, c) => sum + c.version, 0);
    const again = await runSync(sf.id, 'accounts', 'FULL');
    expect(again).toMatchObject({ recordsSeen: 2_300, recordsChanged: 0, recordsDeleted: 0 });
    const after = await linkedCustomers(sf.row);
    expect(after.size).toBe(2_300);
    expect([...after.values()].reduce((sum, c) => sum + c.version, 0)).toBe(versions);
  });

  it('INCREMENTAL after changes reads only the changed and new accounts, after the checkpoint, and asks getDeleted for the window', async () => {
    const sf = await salesforce();
    const ids = fake.seedRecords('Account', 300, (i) => ({ Name: `Steady ${i}` }));
    await runSync(sf.id, 'accounts', 'FULL');
    const before = await linkedCustomers(sf.row);
    sandbox.salesforce.requests.length = 0;

    fake.userChange('Account', { Name: 'Renamed Ten', Phone: '+44 20 0000 0010' }, ids[10]);
    fake.userChange('Account', { Name: 'Renamed Eleven' }, ids[11]);
    const added = fake.userChange('Account', { Name: 'Brand New' });
    const run = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(run).toMatchObject({ mode: 'INCREMENTAL', recordsSeen: 3, recordsChanged: 3, recordsDeleted: 0 });

    const [soql] = soqlSent();
    expect(soql).toMatch(/ WHERE SystemModstamp > \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z OR \(SystemModstamp = \S+ AND Id > '\w{18}'\) ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000$/);
    const deleted = restPaths('/sobjects/Account/deleted/');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatch(/\?start=\d{4}-\d{2}-\d{2}T\d{2}%3A\d{2}%3A00Z&end=\d{4}-\d{2}-\d{2}T\d{2}%3A\d{2}%3A00Z$/);

    const model = await linkedCustomers(sf.row);
    expect(model.size).toBe(301);
    expect(model.get(ids[10])).toMatchObject({ name: 'Renamed Ten', phone: '+44 20 0000 0010', id: before.get(ids[10])!.id });
    expect(model.get(ids[11])).toMatchObject({ name: 'Renamed Eleven' });
    expect(model.get(added)).toMatchObject({ name: 'Brand New', deleted: false });
    expect(model.get(ids[12])!.version).toBe(before.get(ids[12])!.version);

    // The changes are within the settle window: the next run reads them again, and they change nothing.
    const next = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(next).toMatchObject({ recordsSeen: 3, recordsChanged: 0 });
  });

  it('2,500 accounts sharing one SystemModstamp are all imported (the Id breaks the tie across queries), the run ends, and the next INCREMENTAL reads none', async () => {
    const sf = await salesforce();
    const stamp = Date.now() - 3_600_000;
    fake.seedRecords('Account', 2_500, (i) => ({ Name: `Tied ${i}` }), () => stamp);
    const run = await runSync(sf.id, 'accounts', 'FULL');
    expect(run).toMatchObject({ pages: 2, recordsSeen: 2_500, recordsChanged: 2_500 });
    const model = await linkedCustomers(sf.row);
    expect(model.size).toBe(2_500);
    const soql = soqlSent();
    expect(soql).toHaveLength(2);
    expect(soql[1]).toContain(`SystemModstamp = ${new Date(Math.floor(stamp / 1000) * 1000).toISOString().slice(0, 19)}Z AND Id > '`);
    const maxId = Object.keys(fake.state().accounts).sort().at(-1);
    expect(run.checkpoint).toMatchObject({ id: maxId });

    const incremental = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(incremental).toMatchObject({ mode: 'INCREMENTAL', recordsSeen: 0, recordsChanged: 0 });
  });

  it('a session that ends mid-run is renewed inside the page, once, and the run completes', async () => {
    const sf = await salesforce();
    fake.queryBatchSize = 400;
    fake.seedRecords('Account', 1_200, (i) => ({ Name: `Session ${i}` }));
    await runSync(sf.id, 'accounts', 'INCREMENTAL');
    const before = { issued: fake.state().tokensIssued, refused: fake.state().expiredSessionRefusals };
    fake.userChange('Account', { Name: 'Changed Before Expiry' }, Object.keys(fake.state().accounts)[5]);
    // Sessions end after the next run's first batch.
    fake.expireSessionsAfterQueries(1);
    const run = await runSync(sf.id, 'accounts', 'FULL');
    expect(run).toMatchObject({ pages: 3, recordsSeen: 1_200, recordsChanged: 1 });
    expect(fake.state().expiredSessionRefusals - before.refused).toBe(1);
    expect(fake.state().tokensIssued - before.issued).toBe(1);
    const logs = await t.sql<{ n: string }>(`SELECT count(*) AS n FROM integration_log WHERE integration_id = $1 AND event_type = 'sync.failed'`, [sf.row]);
    expect(logs[0].n).toBe('0');
  });

  it('a deleted account ends its link: at once through getDeleted on INCREMENTAL, by absence on FULL', async () => {
    const sf = await salesforce();
    const ids = fake.seedRecords('Account', 40, (i) => ({ Name: `Doomed ${i}` }));
    await runSync(sf.id, 'accounts', 'FULL');
    expect(fake.deleteRecord('Account', ids[3])).toBe(true);
    const run = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(run).toMatchObject({ mode: 'INCREMENTAL', recordsDeleted: 1 });
    let model = await linkedCustomers(sf.row);
    expect(model.get(ids[3])!.deleted).toBe(true);
    expect([...model.values()].filter((c) => c.deleted)).toHaveLength(1);

    // Read again (the windows overlap by a minute): nothing more ends.
    expect(await runSync(sf.id, 'accounts', 'INCREMENTAL')).toMatchObject({ recordsDeleted: 0 });

    // A FULL run finds the absence of another.
    delete fake.state().accounts[ids[4]];
    const full = await runSync(sf.id, 'accounts', 'FULL');
    expect(full).toMatchObject({ recordsSeen: 38, recordsDeleted: 1 });
    model = await linkedCustomers(sf.row);
    expect([...model.entries()].filter(([, c]) => c.deleted).map(([id]) => id).sort()).toEqual([ids[3], ids[4]].sort());
  });

  it('a deletion window Salesforce no longer covers makes the run FULL, and says why: a purged delete log, a checkpoint past the 15 days', async () => {
    const sf = await salesforce();
    const ids = fake.seedRecords('Account', 20, (i) => ({ Name: `Window ${i}` }));
    await runSync(sf.id, 'accounts', 'FULL');
    const moveWindow = (ms: number) =>
      t.sql(`UPDATE sync_checkpoint SET checkpoint = jsonb_set(checkpoint, '{deletedFrom}', to_jsonb($2::bigint)) WHERE integration_id = $1 AND resource = 'accounts'`, [sf.row, ms]);

    // The delete log was purged after the window's start: deletions in between are unknown.
    await moveWindow(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
    delete fake.state().accounts[ids[0]];
    fake.purgeDeleteLog();
    const purged = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(purged).toMatchObject({ mode: 'FULL', recordsSeen: 19, recordsDeleted: 1 });
    expect(purged.note).toMatch(/delete log starts at .* after the last run's window: ran as FULL/);
    expect(restPaths('/sobjects/Account/deleted/')).toHaveLength(1);

    await moveWindow(Date.now() - 20 * 24 * 3600 * 1000);
    const old = await runSync(sf.id, 'accounts', 'INCREMENTAL');
    expect(old).toMatchObject({ mode: 'FULL', recordsSeen: 19, recordsDeleted: 0 });
    expect(old.note).toMatch(/older than the 15 days Salesforce reports deletions for: ran as FULL/);
    expect(restPaths('/sobjects/Account/deleted/')).toHaveLength(1);
  });

  it("opportunities become contracts of their account's customer, through the Outbound Message mapping; rehydrate reads one by Id", async () => {
    const sf = await salesforce();
    const accounts = fake.seedRecords('Account', 3, (i) => ({ Name: `Buyer ${i}` }));
    await runSync(sf.id, 'accounts', 'FULL');
    const stages = ['Closed Won', 'Prospecting', 'Closed Lost', 'Negotiation/Review'];
    const opportunities = fake.seedRecords('Opportunity', 8, (i) => ({ Name: `Deal ${i}`, StageName: stages[i % 4], Amount: 1000 + i, CloseDate: '2031-03-0' + String(1 + (i % 9)), AccountId: accounts[i % 3] }));
    const run = await runSync(sf.id, 'opportunities', 'FULL');
    expect(run).toMatchObject({ recordsSeen: 8, recordsChanged: 8 });
    expect(soqlSent().at(-1)).toBe(
      'SELECT Id, Name, StageName, Amount, CloseDate, AccountId, IsClosed, IsWon, Switchboard_Id__c, SystemModstamp FROM Opportunity ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000',
    );
    const contracts = await t.sql<{ external_id: string; title: string; status: string; end_date: Date; customer_id: string; account: string }>(
      `SELECT r.external_id, k.title, k.status, k.end_date, k.customer_id, a.external_id AS account
         FROM external_ref r JOIN contract k ON k.id = r.entity_id
         JOIN external_ref a ON a.entity_id = k.customer_id AND a.integration_id = r.integration_id AND a.entity_type = 'Customer'
        WHERE r.integration_id = $1 AND r.entity_type = 'Contract'`,
      [sf.row],
    );
    expect(contracts).toHaveLength(8);
    const byId = new Map(contracts.map((c) => [c.external_id, c]));
    expect(byId.get(opportunities[0])).toMatchObject({ title: 'Deal 0', status: 'ACTIVE', account: accounts[0] });
    expect(byId.get(opportunities[1])).toMatchObject({ title: 'Deal 1', status: 'DRAFT', account: accounts[1] });
    expect(byId.get(opportunities[2])).toMatchObject({ status: 'TERMINATED', account: accounts[2] });
    expect(byId.get(opportunities[3])).toMatchObject({ status: 'SUSPENDED' });
    expect(new Date(byId.get(opportunities[0])!.end_date).toISOString()).toBe('2031-03-01T00:00:00.000Z');

    // Again: nothing changes. A stage moved in Salesforce arrives through INCREMENTAL.
    expect(await runSync(sf.id, 'opportunities', 'FULL')).toMatchObject({ recordsChanged: 0 });
    fake.userChange('Opportunity', { StageName: 'Closed Won' }, opportunities[1]);
    expect(await runSync(sf.id, 'opportunities', 'INCREMENTAL')).toMatchObject({ recordsSeen: 1, recordsChanged: 1 });
    const [moved] = await t.sql<{ status: string }>(`SELECT k.status FROM contract k JOIN external_ref r ON r.entity_id = k.id WHERE r.integration_id = $1 AND r.external_id = $2`, [sf.row, opportunities[1]]);
    expect(moved.status).toBe('ACTIVE');

    // Rehydrate: the record as Salesforce holds it now, weighed field by field.
    fake.userChange('Account', { Name: 'Buyer Renamed' }, accounts[0]);
    const customerId = (await linkedCustomers(sf.row)).get(accounts[0])!.id;
    const { rehydrate } = await t.run(RehydrateDocument, { entityId: toGlobalId('Customer', customerId), integrationId: sf.id, dryRun: true });
    expect(rehydrate.changes.find((c) => c.field === 'customer.name' || c.field === 'name')).toMatchObject({ incoming: 'Buyer Renamed', applies: true });
    expect(decodeURIComponent(restPaths('/query?q=').at(-1)!)).toMatch(new RegExp(`FROM Account WHERE Id = '${accounts[0]}'$`));
  });

  it('a REQUEST_LIMIT_EXCEEDED answer to a query waits out the hold and the run goes on from the same page', async () => {
    const sf = await salesforce();
    fake.seedRecords('Account', 30, (i) => ({ Name: `Limited ${i}` }));
    await runSync(sf.id, 'accounts', 'FULL');
    sandbox.salesforce.requests.length = 0;
    sandbox.salesforce.setFaults({ burst429: 1 });
    const run = await runSync(sf.id, 'accounts', 'FULL');
    expect(run).toMatchObject({ recordsSeen: 30, recordsChanged: 0, recordsDeleted: 0 });
    const queries = sandbox.salesforce.requests.filter((r) => r.path.includes('/query?q='));
    expect(queries.map((r) => r.status)).toEqual([403, 200]);
    expect(queries[1].at - queries[0].at).toBeGreaterThanOrEqual(4_900);
  });

  it('polled records apply as Outbound Messages do: an auto-synced Account read back changes nothing, a rename in Salesforce goes to no job back, and a newer message is not undone by an older read', async () => {
    const sf = await salesforce(['Customer']);
    try {
      const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Echo Me', phone: '+1 555 0123' } });
      const customerRow = rowId(createCustomer.customer.id);
      const jobs = async () => (await t.sql<{ status: string }>(`SELECT status FROM integration_job WHERE integration_id = $1`, [sf.row])).map((j) => j.status);
      await until(async () => (await jobs()).join() === 'COMPLETED', 30_000);
      const [account] = Object.values(fake.state().accounts);
      expect(account).toMatchObject({ Name: 'Echo Me', Switchboard_Id__c: customerRow });

      // Read back: the values the gateway wrote there; nothing changes and nothing goes back.
      const full = await runSync(sf.id, 'accounts', 'FULL');
      expect(full).toMatchObject({ recordsSeen: 1, recordsChanged: 0 });
      const [version] = await t.sql<{ version: number }>(`SELECT version FROM customer WHERE id = $1`, [customerRow]);
      expect(version.version).toBe(1);
      expect(await jobs()).toEqual(['COMPLETED']);

      // A person's rename reaches the model by polling; it is not written back to where it came from.
      fake.userChange('Account', { Name: 'Echo Renamed' }, String(account.Id));
      expect(await runSync(sf.id, 'accounts', 'INCREMENTAL')).toMatchObject({ recordsSeen: 1, recordsChanged: 1 });
      expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerRow]))[0].name).toBe('Echo Renamed');
      expect(await jobs()).toEqual(['COMPLETED']);

      // An Outbound Message of a newer state, then a run that reads an older one: the newer stays.
      const message = outboundMessageXml({
        organizationId: fake.organizationId,
        actionId: '04k5e000000GmaDAAS',
        notifications: [{ id: fakeSalesforceId('04l'), sObjectType: 'Account', fields: { Id: String(account.Id), Name: 'From Message', SystemModstamp: new Date(Date.now() + 120_000).toISOString() } }],
      });
      const notificationId = /<Notification><Id>(\w+)<\/Id>/.exec(message)![1];
      expect((await post(sf.webhookUrl, message, { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' })).status).toBe(200);
      await waitProcessed(t, sf.row, [notificationId]);
      expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerRow]))[0].name).toBe('From Message');
      const again = await runSync(sf.id, 'accounts', 'INCREMENTAL');
      expect(again).toMatchObject({ recordsSeen: 1, recordsChanged: 0 });
      expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerRow]))[0].name).toBe('From Message');
    } finally {
      await t.run(UpdateIntegrationDocument, { id: sf.id, input: { autoSync: [] } });
    }
  });
});
