import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/domain/shared/ids.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import type { RecordedRequest } from '../../src/sandbox/fake-server.js';
import {
  CancelSyncDocument,
  CreateIntegrationDocument,
  CustomerOriginsDocument,
  PauseIntegrationDocument,
  RehydrateDocument,
  ResumeIntegrationDocument,
  StartSyncDocument,
  SyncRunNodeDocument,
  SyncRunsDocument,
  type SyncRunFieldsFragment,
} from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { post, stripeHeaders, waitProcessed, webhookCatcher } from '../support/webhooks.js';
import { subscribe } from '../support/subscriptions.js';

let t: TestGateway;
let sandbox: Sandbox;
const STRIPE_SECRET = 'whsec_' + 'c3luYy10ZXN0LXN0cmlwZS1zZWNyZXQ';
const HUBSPOT_SECRET = 'hubspot-sync-test-client-secret-0123';
let seq = 0;

beforeAll(async () => {
  sandbox = await startSandbox();
  // Stripe owns customer emails here (HubSpot owns names and phones by default): changes at
  // both providers reach the model.
  t = await startTestGateway({ FIELD_OWNERSHIP: '{"customer.email":"STRIPE"}', SYNC_SCHEDULE_CHECK_MS: '200', WEBHOOK_RETRY_DELAY_SECONDS: '1' });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});
beforeEach(() => {
  for (const server of sandbox.servers) server.reset();
});

interface Made {
  id: string;
  row: string;
  webhookUrl: string;
  /** The credential its requests carry (the fakes record requests of every integration). */
  credential: string;
}

async function integration(provider: 'STRIPE' | 'HUBSPOT', settings: Record<string, unknown> = {}): Promise<Made> {
  const n = ++seq;
  const credential = provider === 'STRIPE' ? `sk_test_sync${n}` : `pat-na1-sync-${n}`;
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: {
      provider,
      name: `${provider} sync ${n}`,
      baseUrl: provider === 'STRIPE' ? sandbox.stripe.url : sandbox.hubspot.url,
      credentials: provider === 'STRIPE' ? { apiKey: credential } : { accessToken: credential },
      webhookSecret: provider === 'STRIPE' ? STRIPE_SECRET : HUBSPOT_SECRET,
      settings: { requestsPerSecond: 200, timeoutMs: 5000, ...settings },
    },
  });
  const i = createIntegration.integration;
  return { id: i.id, row: rowId(i.id), webhookUrl: i.webhookUrl!, credential };
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

async function waitRun(id: string, timeoutMs = 120_000): Promise<SyncRunFieldsFragment> {
  return until(
    async () => {
      const { node } = await t.run(SyncRunNodeDocument, { id });
      return node?.__typename === 'SyncRun' && TERMINAL.includes(node.status) ? node : null;
    },
    timeoutMs,
    100,
  );
}

async function runSync(integrationId: string, resource: string, mode: 'FULL' | 'INCREMENTAL', timeoutMs?: number): Promise<SyncRunFieldsFragment> {
  const { startSync } = await t.run(StartSyncDocument, { integrationId, resource, mode });
  const run = await waitRun(startSync.syncRun.id, timeoutMs);
  expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED' });
  return run;
}

/** The provider's requests made with this integration's credential. */
const requestsOf = (server: { requests: RecordedRequest[] }, credential: string) => server.requests.filter((r) => r.headers.authorization === `Bearer ${credential}`);

/** Linked customers of an integration: external id -> the canonical fields. */
async function linked(row: string): Promise<Map<string, { id: string; name: string | null; email: string | null; phone: string | null; deleted: boolean }>> {
  const rows = await t.sql<{ external_id: string; id: string; name: string | null; email: string | null; phone: string | null; deleted: boolean }>(
    `SELECT r.external_id, c.id, c.name, c.email, c.phone, r.deleted_at IS NOT NULL AS deleted
       FROM external_ref r JOIN customer c ON c.id = r.entity_id WHERE r.integration_id = $1 AND r.entity_type = 'Customer'`,
    [row],
  );
  return new Map(rows.map((r) => [r.external_id, r]));
}

describe('sync runs (backfill and polling)', () => {
  it('a FULL Stripe run of 1,050 customers reads 11 pages and makes 1,050 linked customers; run again, it changes nothing; progress reaches syncRunUpdated', async () => {
    const stripe = await integration('STRIPE');
    const ids = sandbox.stripe.handler.seedCustomers(1050, (i) => ({ name: `Backfill ${i}`, email: `backfill-${i}@example.com`, phone: `+1555${String(i).padStart(7, '0')}` }));
    const progress = subscribe<{ syncRunUpdated: { status: string; pages: number; recordsSeen: number } }>(
      t.url,
      t.adminKey,
      'subscription($i: ID) { syncRunUpdated(filter: { integrationId: $i }) { id status pages recordsSeen } }',
      { i: stripe.id },
    );
    await progress.connected;
    try {
      const first = await runSync(stripe.id, 'customers', 'FULL');
      expect(first).toMatchObject({ mode: 'FULL', pages: 11, recordsSeen: 1050, recordsChanged: 1050, recordsDeleted: 0, requestedBy: 'api' });
      const lists = requestsOf(sandbox.stripe, stripe.credential).filter((r) => r.path.startsWith('/v1/customers'));
      expect(lists).toHaveLength(11);
      expect(lists.every((r) => r.method === 'GET' && /limit=100/.test(r.path))).toBe(true);

      const model = await linked(stripe.row);
      expect(model.size).toBe(1050);
      expect(new Set([...model.values()].map((c) => c.id)).size).toBe(1050);
      expect(model.get(ids[7])).toMatchObject({ name: 'Backfill 7', email: 'backfill-7@example.com', phone: '+15550000007', deleted: false });
      const { customer } = await t.run(CustomerOriginsDocument, { id: globalCustomer(model.get(ids[7])!.id) });
      expect(customer.fieldOrigins.find((o) => o.field === 'email')).toMatchObject({ source: 'POLL', integrationId: stripe.id });

      const versions = await t.sql<{ sum: string }>(`SELECT sum(version)::text AS sum FROM customer WHERE id IN (SELECT entity_id FROM external_ref WHERE integration_id = $1)`, [stripe.row]);
      const again = await runSync(stripe.id, 'customers', 'FULL');
      expect(again).toMatchObject({ pages: 11, recordsSeen: 1050, recordsChanged: 0, recordsDeleted: 0 });
      expect((await linked(stripe.row)).size).toBe(1050);
      expect(await t.sql(`SELECT sum(version)::text AS sum FROM customer WHERE id IN (SELECT entity_id FROM external_ref WHERE integration_id = $1)`, [stripe.row])).toEqual(versions);
      expect(Number((await t.sql<{ n: string }>(`SELECT count(*) AS n FROM customer WHERE name LIKE 'Backfill %'`))[0].n)).toBe(1050);

      // Progress, from the worker through the relay: page by page, then the end.
      await until(() => progress.events.filter((e) => e.syncRunUpdated.status === 'SUCCEEDED').length >= 2, 10_000);
      const running = progress.events.filter((e) => e.syncRunUpdated.status === 'RUNNING' && e.syncRunUpdated.pages > 0);
      expect(running.length).toBeGreaterThan(5);
      expect(progress.errors).toEqual([]);
    } finally {
      await progress.dispose();
    }
  });

  it('one QUEUED or RUNNING run per integration and resource (CONFLICT); cancelSync stops it; bad resources are BAD_USER_INPUT', async () => {
    const stripe = await integration('STRIPE');
    sandbox.stripe.handler.seedCustomers(300);
    sandbox.stripe.setFaults({ latencyMs: 150 });
    const { startSync } = await t.run(StartSyncDocument, { integrationId: stripe.id, resource: 'customers', mode: 'FULL' });
    const second = await t.request(StartSyncDocument, { integrationId: stripe.id, resource: 'customers', mode: 'INCREMENTAL' });
    expect(codes(second)).toEqual(['CONFLICT']);
    const bad = await t.request(StartSyncDocument, { integrationId: stripe.id, resource: 'contacts', mode: 'FULL' });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.body.errors![0].message).toMatch(/customers, invoices/);
    await until(async () => {
      const { node } = await t.run(SyncRunNodeDocument, { id: startSync.syncRun.id });
      return node?.__typename === 'SyncRun' && node.pages >= 1;
    }, 30_000);
    const { cancelSync } = await t.run(CancelSyncDocument, { id: startSync.syncRun.id });
    expect(cancelSync.syncRun.status).toBe('CANCELLED');
    const ended = await waitRun(startSync.syncRun.id);
    expect(ended.status).toBe('CANCELLED');
    expect(ended.pages).toBeLessThan(3);
    expect(codes(await t.request(CancelSyncDocument, { id: startSync.syncRun.id }))).toEqual(['CONFLICT']);
    // The run is over: another may start.
    sandbox.stripe.setFaults({ latencyMs: 0 });
    await runSync(stripe.id, 'customers', 'FULL');
    const { syncRuns } = await t.run(SyncRunsDocument, { filter: { integrationId: stripe.id } });
    expect(syncRuns.edges.map((e) => e.node.status)).toEqual(['CANCELLED', 'SUCCEEDED']);
  });

  it('a record deleted at the provider ends its link after a FULL run; the others stay', async () => {
    const stripe = await integration('STRIPE');
    const ids = sandbox.stripe.handler.seedCustomers(120, (i) => ({ name: `Keep ${i}`, email: `keep-${i}@example.com` }));
    await runSync(stripe.id, 'customers', 'FULL');
    sandbox.stripe.handler.deleteCustomer(ids[42]);
    const run = await runSync(stripe.id, 'customers', 'FULL');
    expect(run).toMatchObject({ recordsSeen: 119, recordsDeleted: 1 });
    const model = await linked(stripe.row);
    expect(model.get(ids[42])!.deleted).toBe(true);
    expect([...model.values()].filter((c) => c.deleted)).toHaveLength(1);
    const logs = await t.sql<{ event_type: string; response: unknown }>(`SELECT event_type, response FROM integration_log WHERE integration_id = $1 AND event_type = 'sync.deleted'`, [stripe.row]);
    expect(logs).toHaveLength(1);
  });

  it("Stripe: two changes of a customer's email in the same second (Stripe's events carry whole seconds), delivered newest first: the newest stays", async () => {
    const stripe = await integration('STRIPE');
    const [id] = sandbox.stripe.handler.seedCustomers(1, () => ({ name: 'Same Second', email: 'same-second-0@example.com' }));
    await runSync(stripe.id, 'customers', 'FULL');
    const catcher = await webhookCatcher();
    const caught = catcher.caught;
    sandbox.stripe.handler.setWebhook({ url: catcher.url, secret: STRIPE_SECRET });
    let events: any[] = [];
    try {
      // Two edits at Stripe, caught before the gateway sees them; again until they share a second.
      for (let n = 1; events.length === 0 || events[0].created !== events[1].created; n += 2) {
        caught.length = 0;
        sandbox.stripe.handler.updateCustomer(id, { email: `same-second-${n}@example.com` });
        sandbox.stripe.handler.updateCustomer(id, { email: `same-second-${n + 1}@example.com` });
        await until(() => caught.length === 2, 10_000, 5);
        events = caught.map((b) => JSON.parse(b));
      }
    } finally {
      sandbox.stripe.handler.setWebhook(null);
      catcher.close();
    }
    const newest = events[1].data.object.email as string;
    expect(events[1].data.previous_attributes.email).toBe(events[0].data.object.email);
    for (const body of [caught[1], caught[0]]) {
      expect((await post(stripe.webhookUrl, body, stripeHeaders(body, STRIPE_SECRET))).status).toBe(200);
      await waitProcessed(t, stripe.row, [JSON.parse(body).id]);
    }
    const [row] = await t.sql<{ email: string }>(
      `SELECT c.email FROM customer c JOIN external_ref r ON r.entity_id = c.id WHERE r.integration_id = $1 AND r.external_id = $2`,
      [stripe.row, id],
    );
    expect(row.email).toBe(newest);
  });

  it('10% of webhooks dropped while 500 changes happen at Stripe and HubSpot: the next incremental runs leave the model equal to the providers', async () => {
    const stripe = await integration('STRIPE');
    const hubspot = await integration('HUBSPOT');
    const tag = Date.now().toString(36);
    const cus = sandbox.stripe.handler.seedCustomers(250, (i) => ({ name: `Drop ${i}`, email: `drop-${i}-${tag}@example.com` }));
    const contacts = Array.from({ length: 250 }, (_, i) => sandbox.hubspot.handler.createObject('contacts', { email: `hs-${i}-${tag}@example.com`, firstname: 'Contact', lastname: String(i), phone: '+1000' }));
    await runSync(hubspot.id, 'contacts', 'FULL');
    // Changes follow the Stripe backfill at once, mostly within the second it read in: events
    // (whole seconds) of that second must still apply over the listed state.
    await runSync(stripe.id, 'customers', 'FULL');

    sandbox.stripe.handler.setWebhook({ url: stripe.webhookUrl, secret: STRIPE_SECRET, dropRate: 0.1 });
    sandbox.hubspot.handler.setWebhook({ url: hubspot.webhookUrl, secret: HUBSPOT_SECRET, dropRate: 0.1 });
    cus.forEach((id, i) => sandbox.stripe.handler.updateCustomer(id, { email: `moved-${i}-${tag}@example.com` }));
    contacts.forEach((id, i) => sandbox.hubspot.handler.updateObject('contacts', id, { firstname: `Renamed${i}`, phone: `+2${String(i).padStart(6, '0')}` }));

    // Every webhook that was sent has been answered and processed.
    const deliveries = () => [...sandbox.stripe.handler.deliveries, ...sandbox.hubspot.handler.deliveries];
    await until(() => deliveries().every((d) => d.dropped || d.status === 200), 60_000, 50);
    const sent = deliveries().filter((d) => !d.dropped).length;
    expect(deliveries().filter((d) => d.dropped).length).toBeGreaterThan(0);
    await until(async () => {
      const [row] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id IN ($1, $2) AND status <> 'RECEIVED'`, [stripe.row, hubspot.row]);
      return row.n === sent;
    }, 60_000, 50);

    const stripeState = () => sandbox.stripe.state<{ customers: Record<string, { email: string }> }>().customers;
    const hubspotState = () => sandbox.hubspot.handler.state().contacts;
    const mismatches = async () => {
      const s = await linked(stripe.row);
      const h = await linked(hubspot.row);
      const wrongStripe = cus.filter((id) => s.get(id)?.email !== stripeState()[id].email);
      const wrongHubspot = contacts.filter((id) => {
        const p = hubspotState()[id].properties;
        return h.get(id)?.name !== `${p.firstname} ${p.lastname}` || h.get(id)?.phone !== p.phone;
      });
      return { stripe: wrongStripe.length, hubspot: wrongHubspot.length };
    };
    const before = await mismatches();
    expect(before.stripe).toBeGreaterThan(0);
    expect(before.hubspot).toBeGreaterThan(0);

    const s = await runSync(stripe.id, 'customers', 'INCREMENTAL');
    const h = await runSync(hubspot.id, 'contacts', 'INCREMENTAL');
    expect(s.mode).toBe('INCREMENTAL');
    expect(h.mode).toBe('INCREMENTAL');
    expect(s.recordsSeen).toBe(250);
    expect(s.recordsChanged).toBe(before.stripe);
    expect(await mismatches()).toEqual({ stripe: 0, hubspot: 0 });
    expect((await linked(stripe.row)).size).toBe(250);
    expect((await linked(hubspot.row)).size).toBe(250);
  });

  it('HubSpot: 10,500 contacts modified at the same instant are all imported, and the run ends', async () => {
    const hubspot = await integration('HUBSPOT');
    const at = new Date('2026-11-30T12:00:00.000Z');
    for (let i = 0; i < 10_500; i++) sandbox.hubspot.handler.createObject('contacts', { email: `same-${i}@example.com`, firstname: 'Same', lastname: String(i) }, [], at);
    const run = await runSync(hubspot.id, 'contacts', 'FULL', 240_000);
    expect(run.recordsChanged).toBe(10_500);
    expect((await linked(hubspot.row)).size).toBe(10_500);
    const searches = requestsOf(sandbox.hubspot, hubspot.credential).filter((r) => r.path.endsWith('/search'));
    // No query paged past HubSpot's 10,000 results (the fake answers 400); the run kept under
    // the search limit (a 429 now and then from jitter on the way is waited out).
    expect(searches.filter((r) => r.status === 400)).toEqual([]);
    expect(searches.filter((r) => r.status === 429).length).toBeLessThanOrEqual(3);
    expect(searches.length).toBeLessThan(120);
    // At most 5 searches answered in any second.
    const times = searches.filter((r) => r.status === 200).map((r) => r.at).sort((a, b) => a - b);
    for (let i = 5; i < times.length; i++) expect(times[i] - times[i - 5]).toBeGreaterThanOrEqual(1000);
  }, 300_000);

  it('a 429 burst mid-run: the run waits (Retry-After) and completes; the provider never sees more than the integration rate', async () => {
    const stripe = await integration('STRIPE', { requestsPerSecond: 5 });
    sandbox.stripe.handler.seedCustomers(1050);
    const { startSync } = await t.run(StartSyncDocument, { integrationId: stripe.id, resource: 'customers', mode: 'FULL' });
    await until(async () => {
      const { node } = await t.run(SyncRunNodeDocument, { id: startSync.syncRun.id });
      return node?.__typename === 'SyncRun' && node.pages >= 2;
    }, 30_000);
    sandbox.stripe.setFaults({ burst429: 3, retryAfterSeconds: 1 });
    const run = await waitRun(startSync.syncRun.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', pages: 11, recordsSeen: 1050 });
    const mine = requestsOf(sandbox.stripe, stripe.credential);
    expect(mine.filter((r) => r.status === 429)).toHaveLength(3);
    const times = mine.map((r) => r.at).sort((a, b) => a - b);
    // 5 a second: six requests never fall within one second (10 ms for timer granularity).
    for (let i = 5; i < times.length; i++) expect(times[i] - times[i - 5]).toBeGreaterThanOrEqual(990);
  });

  it('rehydrate: dryRun lists the differing fields and changes nothing; dryRun false applies only what the provider owns', async () => {
    const stripe = await integration('STRIPE');
    const [id] = sandbox.stripe.handler.seedCustomers(1, () => ({ name: 'Ada Before', email: 'ada.before@example.com' }));
    await runSync(stripe.id, 'customers', 'FULL');
    const customerId = globalCustomer((await linked(stripe.row)).get(id)!.id);
    // Changed at Stripe with no event reaching the gateway.
    Object.assign(sandbox.stripe.state<{ customers: Record<string, Record<string, unknown>> }>().customers[id], { name: 'Ada After', email: 'ada.after@example.com' });

    const dry = (await t.run(RehydrateDocument, { entityId: customerId, integrationId: stripe.id, dryRun: true })).rehydrate;
    expect(dry.applied).toBe(false);
    const byField = Object.fromEntries(dry.changes.map((c) => [c.field, c]));
    expect(byField['customer.email']).toMatchObject({ current: 'ada.before@example.com', incoming: 'ada.after@example.com', applies: true, reason: null });
    expect(byField['customer.name']).toMatchObject({ current: 'Ada Before', incoming: 'Ada After', applies: false, reason: 'owned by HUBSPOT' });
    expect((await t.run(CustomerOriginsDocument, { id: customerId })).customer).toMatchObject({ name: 'Ada Before', email: 'ada.before@example.com' });
    expect(await t.sql(`SELECT 1 FROM audit_log WHERE action = 'rehydrate'`)).toHaveLength(0);

    const applied = (await t.run(RehydrateDocument, { entityId: customerId, integrationId: stripe.id, dryRun: false })).rehydrate;
    expect(applied.applied).toBe(true);
    const after = (await t.run(CustomerOriginsDocument, { id: customerId })).customer;
    expect(after).toMatchObject({ name: 'Ada Before', email: 'ada.after@example.com' });
    expect(after.fieldOrigins.find((o) => o.field === 'email')).toMatchObject({ source: 'POLL', integrationId: stripe.id });
    expect(await t.sql(`SELECT 1 FROM audit_log WHERE action = 'rehydrate'`)).toHaveLength(1);
    // Nothing linked at that integration: a clear error.
    const other = await integration('STRIPE');
    expect(codes(await t.request(RehydrateDocument, { entityId: customerId, integrationId: other.id, dryRun: true }))).toEqual(['BAD_USER_INPUT']);
  });

  it('pollIntervalSeconds schedules incremental runs of every resource; one that finds nothing costs one request; pausing the integration pauses them', async () => {
    const polled = await integration('STRIPE', { pollIntervalSeconds: 1 });
    // Another polled integration stays active: its runs show the schedule still ticks while the first is paused.
    const clock = await integration('STRIPE', { pollIntervalSeconds: 1 });
    const runsOf = async (row: string) =>
      t.sql<{ id: string; resource: string; mode: string; status: string; records_seen: number; started_at: Date; finished_at: Date }>(
        `SELECT id, resource, mode, status, records_seen, started_at, finished_at FROM sync_run WHERE integration_id = $1 AND requested_by = 'schedule' ORDER BY queued_at`,
        [row],
      );
    const incremental = async (row: string) => (await runsOf(row)).filter((r) => r.mode === 'INCREMENTAL' && r.status === 'SUCCEEDED');
    await until(async () => {
      const rows = await incremental(polled.row);
      return rows.filter((r) => r.resource === 'customers').length >= 2 && rows.filter((r) => r.resource === 'invoices').length >= 2;
    }, 30_000, 100);
    // The first scheduled run of each resource had no checkpoint: it was a FULL backfill.
    expect((await runsOf(polled.row)).filter((r) => r.mode === 'FULL').map((r) => r.resource).sort()).toEqual(['customers', 'invoices']);
    const mine = requestsOf(sandbox.stripe, polled.credential);
    for (const run of await incremental(polled.row)) {
      expect(run.records_seen).toBe(0);
      const marker = run.resource === 'customers' ? 'customer.created' : 'invoice.created';
      const during = mine.filter((r) => r.at >= run.started_at.getTime() - 5 && r.at <= run.finished_at.getTime() + 5 && decodeURIComponent(r.path).includes(marker));
      expect(during).toHaveLength(1);
    }

    await t.run(PauseIntegrationDocument, { id: polled.id });
    // A run queued when the pause came waits QUEUED (it resumes with the integration); none is RUNNING.
    await until(async () => (await runsOf(polled.row)).every((r) => r.status !== 'RUNNING'), 10_000, 50);
    const whilePaused = (await runsOf(polled.row)).length;
    const clockRuns = (await runsOf(clock.row)).length;
    await until(async () => (await runsOf(clock.row)).length >= clockRuns + 4, 30_000, 100);
    expect((await runsOf(polled.row)).length).toBe(whilePaused);

    const ranBefore = (await incremental(polled.row)).length;
    await t.run(ResumeIntegrationDocument, { id: polled.id });
    await until(async () => (await incremental(polled.row)).length > ranBefore, 30_000, 100);
    await t.run(PauseIntegrationDocument, { id: polled.id });
    await t.run(PauseIntegrationDocument, { id: clock.id });
  });
});

const globalCustomer = (row: string) => toGlobalId('Customer', row);
