import type { QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Customer } from '../../src/domain/customer/customer.entity.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CreateApiKeyDocument, CreateCustomerDocument, CreateIntegrationDocument, PushCustomerDocument, RevokeApiKeyDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { rowId, STRIPE_KEY } from '../support/outbound.js';
import { spawnGateway, until, type GatewayProcess, stopSpawned } from '../support/processes.js';
import { rawConnect, subscribe } from '../support/subscriptions.js';

/**
 * Subscriptions across processes: `t` is an API process in this test's process; a second API
 * process and a worker process run as separate OS processes on the same database.
 */
let t: TestGateway;
let sandbox: Sandbox;
let api2: GatewayProcess;
let worker: GatewayProcess;
let api2Url = '';
let stripeId = '';

const JOB_UPDATES = `subscription($filter: IntegrationEventFilter) {
  integrationJobUpdated(filter: $filter) { id status attempts operation entityId integration { id } }
}`;

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ ROLE: 'api' });
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'STRIPE', name: 'stripe', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY } },
  });
  stripeId = createIntegration.integration.id;
  [api2, worker] = await Promise.all([spawnGateway(t, { ROLE: 'api' }), spawnGateway(t, { ROLE: 'worker' })]);
  api2Url = /GraphQL: (http:\/\/\S+)\/graphql/.exec(api2.output())![1];
});
afterAll(async () => {
  await stopSpawned();
  await Promise.all([api2?.stop(), worker?.stop()]);
  await t?.stop();
  await sandbox?.stop();
});

/** Waits until a count has not changed for half a second (in-flight deliveries have landed); returns it. */
async function quiet(count: () => number): Promise<number> {
  let last = -1;
  let since = Date.now();
  await until(
    () => {
      if (count() !== last) [last, since] = [count(), Date.now()];
      return Date.now() - since > 500;
    },
    10_000,
    50,
  );
  return last;
}

/** Publishes a customer.updated for this customer, as the webhook processor would. */
const probe = (customerId: string) => () => {
  void t.gateway.services.customers.findByIds([rowId(customerId)]).then(([c]) => t.gateway.services.events.publish('customer.updated', c as Customer));
};

const newCustomer = async (name: string) =>
  (await t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com` } })).createCustomer.customer.id;

describe('integrationJobUpdated across processes', () => {
  it('a client on each of two API processes receives every status change of a job run by the worker process, in order, exactly once', async () => {
    const customerId = await newCustomer('Sub Scriber');
    const onT = subscribe(t.url, t.adminKey, JOB_UPDATES, { filter: { entityId: customerId } });
    const onApi2 = subscribe(api2Url, t.adminKey, JOB_UPDATES, { filter: { entityId: customerId } });
    await Promise.all([onT.ready(customerId, probe(customerId)), onApi2.ready(customerId, probe(customerId))]);
    try {
      const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: stripeId });
      const done = (s: typeof onT) => s.events.some((e: any) => e.integrationJobUpdated.status === 'COMPLETED');
      await until(() => done(onT) && done(onApi2), 30_000);
      // Nothing more arrives afterwards (no duplicate delivered late).
      await new Promise((r) => setTimeout(r, 300));
      for (const s of [onT, onApi2]) {
        expect(s.errors).toEqual([]);
        expect(s.events.map((e: any) => e.integrationJobUpdated.status)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
        expect(s.events.every((e: any) => e.integrationJobUpdated.id === pushCustomer.job.id)).toBe(true);
      }
      expect(onT.events.at(-1)).toMatchObject({ integrationJobUpdated: { attempts: 1, integration: { id: stripeId } } });
      // Run by the worker process, not by an API process.
      const [{ count }] = await t.sql<{ count: number }>(`SELECT count(*)::int AS count FROM integration_log WHERE job_id = $1`, [rowId(pushCustomer.job.id)]);
      expect(count).toBe(1);
    } finally {
      await Promise.all([onT.dispose(), onApi2.dispose()]);
    }
  });

  it("a job's PENDING reaches every process's subscribers before the worker's PROCESSING, even when the enqueuing process publishes late; a repeated idempotency key announces nothing", async () => {
    const customerId = await newCustomer('Late Publisher');
    const onT = subscribe(t.url, t.adminKey, JOB_UPDATES, { filter: { entityId: customerId } });
    const onApi2 = subscribe(api2Url, t.adminKey, JOB_UPDATES, { filter: { entityId: customerId } });
    await Promise.all([onT.ready(customerId, probe(customerId)), onApi2.ready(customerId, probe(customerId))]);
    // This process's publishing after commits (the relay's NOTIFY statements) now lags by a
    // second, as behind a stalled event loop; the worker process runs the job at once.
    const db = t.gateway.db;
    const query = db.query.bind(db);
    // (A statement inside a transaction comes through here too, with its query runner: not delayed.)
    db.query = (async (sql: string, parameters?: unknown[], runner?: QueryRunner) => {
      if (!runner && sql.includes('pg_notify')) await new Promise((r) => setTimeout(r, 1000));
      return query(sql, parameters, runner);
    }) as typeof db.query;
    try {
      const vars = { customerId, integrationId: stripeId, idempotencyKey: `late-${Date.now()}` };
      const { pushCustomer } = await t.run(PushCustomerDocument, vars);
      const done = (s: typeof onT) => s.events.some((e: any) => e.integrationJobUpdated.status === 'COMPLETED');
      await until(() => done(onT) && done(onApi2), 30_000);
      const statuses = (s: typeof onT) => s.events.map((e: any) => e.integrationJobUpdated.status);
      for (const s of [onT, onApi2]) expect(statuses(s)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
      // The same key again returns the COMPLETED job and changes nothing: nothing is announced
      // (publishing runs at full speed again, so a repeat announcement would show in the window).
      db.query = query;
      const again = await t.run(PushCustomerDocument, vars);
      expect(again.pushCustomer.job).toMatchObject({ id: pushCustomer.job.id, status: 'COMPLETED' });
      await quiet(() => onT.events.length + onApi2.events.length);
      for (const s of [onT, onApi2]) expect(statuses(s)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
    } finally {
      db.query = query;
      await Promise.all([onT.dispose(), onApi2.dispose()]);
    }
  });

  it('a filtered subscription receives only its own jobs', async () => {
    const mine = await newCustomer('Mine Only');
    const other = await newCustomer('Not Mine');
    const s = subscribe(api2Url, t.adminKey, JOB_UPDATES, { filter: { entityId: mine, integrationId: stripeId } });
    await s.ready(mine, probe(mine));
    try {
      const a = await t.run(PushCustomerDocument, { customerId: other, integrationId: stripeId });
      const b = await t.run(PushCustomerDocument, { customerId: mine, integrationId: stripeId });
      await until(() => s.events.some((e: any) => e.integrationJobUpdated.status === 'COMPLETED'), 30_000);
      await until(async () => (await t.sql<{ status: string }>('SELECT status FROM integration_job WHERE id = $1', [rowId(a.pushCustomer.job.id)]))[0].status === 'COMPLETED');
      await new Promise((r) => setTimeout(r, 300));
      expect(new Set(s.events.map((e: any) => e.integrationJobUpdated.id))).toEqual(new Set([b.pushCustomer.job.id]));
    } finally {
      await s.dispose();
    }
  });
});

describe('authentication and partner scope', () => {
  it('no key closes with 4401; an unknown or revoked key with 4403; revoking a key closes its open sockets with 4403', async () => {
    expect(await rawConnect(t.url, undefined)).toMatchObject({ code: 4401, acked: false });
    expect(await rawConnect(t.url, { authorization: 'Bearer sb_nope_not_a_key_at_all_0000' })).toMatchObject({ code: 4403, acked: false });
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'watcher', role: 'APP' } });
    expect(await rawConnect(api2Url, { authorization: `Bearer ${createApiKey.key}` })).toMatchObject({ acked: true });

    const open = subscribe(api2Url, createApiKey.key, JOB_UPDATES, {});
    await open.connected;
    await t.run(RevokeApiKeyDocument, { id: createApiKey.apiKey.id });
    expect(await open.closed).toMatchObject({ code: 4403 });
    expect(await rawConnect(t.url, { authorization: `Bearer ${createApiKey.key}` })).toMatchObject({ code: 4403, acked: false });
  });

  it('a PARTNER subscription never sees another customer nor an admin\'s shared result; job events need a scope partners do not have', async () => {
    const granted = await newCustomer('Granted Customer');
    const hidden = await newCustomer('Hidden Customer');
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'partner', role: 'PARTNER', customerIds: [granted] } });
    const document = 'subscription { customerUpdated { id name email } }';
    // An admin on the same process runs the same document first: results are shared per event
    // only between subscribers with the same role, scopes and grants.
    const admin = subscribe<{ customerUpdated: { id: string; name: string; email: string | null } }>(api2Url, t.adminKey, document);
    await admin.ready(granted, probe(granted));
    const customers = subscribe<{ customerUpdated: { id: string; name: string; email: string | null } }>(api2Url, createApiKey.key, document);
    const jobs = subscribe(api2Url, createApiKey.key, JOB_UPDATES, {});
    await customers.ready(granted, probe(granted));
    customers.events.length = 0;
    admin.events.length = 0;
    try {
      // Canonical changes from providers are published like this by the webhook processor.
      const [a, b] = (await t.gateway.services.customers.findByIds([rowId(hidden), rowId(granted)])) as Customer[];
      t.gateway.services.events.publish('customer.updated', a);
      t.gateway.services.events.publish('customer.updated', b);
      // (Late copies of the readiness probes for `granted` may still arrive: only `hidden` is
      // published once, so the admin seeing it is what says the partner had its chance too.)
      await until(() => admin.events.some((e) => e.customerUpdated.id === hidden) && customers.events.length > 0, 10_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(new Set(customers.events.map((e) => e.customerUpdated.id))).toEqual(new Set([granted]));
      // Without pii:read the partner sees no email, though the admin's result for the same event has it.
      expect(customers.events[0].customerUpdated).toMatchObject({ name: 'Granted Customer', email: null });
      await until(() => admin.events.some((e) => e.customerUpdated.id === granted), 10_000);
      expect(admin.events.find((e) => e.customerUpdated.id === granted)!.customerUpdated.email).toMatch(/^granted\.customer\./);
      await until(() => jobs.errors.length > 0, 10_000);
      expect(JSON.stringify(jobs.errors)).toContain('FORBIDDEN');
    } finally {
      await Promise.all([admin.dispose(), customers.dispose(), jobs.dispose()]);
    }
  });
});

describe('the listening connection', () => {
  it('after pg_terminate_backend on every LISTEN connection, delivery resumes and nothing is delivered twice', async () => {
    const customerId = await newCustomer('Reconnect Watch');
    const s = subscribe<{ customerUpdated: { id: string; version: number } }>(t.url, t.adminKey, 'subscription($f: CustomerEventFilter) { customerUpdated(filter: $f) { id version } }', {
      f: { id: customerId },
    });
    await s.connected;
    const [customer] = (await t.gateway.services.customers.findByIds([rowId(customerId)])) as Customer[];
    try {
      await until(
        () => {
          t.gateway.services.events.publish('customer.updated', customer);
          return s.events.length > 0;
        },
        10_000,
        50,
      );

      const base = await quiet(() => s.events.length);
      const killed = await t.sql<{ pid: number }>(
        `SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = 'switchboard-listen-switchboard_events' AND datname = current_database()`,
      );
      expect(killed.length).toBeGreaterThanOrEqual(2);
      // Publish until one arrives again (the listener reconnects within about a quarter second).
      await until(
        () => {
          t.gateway.services.events.publish('customer.updated', customer);
          return s.events.length > base;
        },
        15_000,
        100,
      );
      // Those published while it reconnected are either delivered once or not at all: let the
      // stragglers land, then count exactly.
      const before = await quiet(() => s.events.length);
      for (let i = 0; i < 20; i++) t.gateway.services.events.publish('customer.updated', customer);
      await until(() => s.events.length === before + 20, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(s.events.length).toBe(before + 20);
      const listeners = await t.sql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'switchboard-listen-switchboard_events' AND datname = current_database()`);
      expect(listeners.length).toBeGreaterThanOrEqual(2);
    } finally {
      await s.dispose();
    }
  });
});

describe('back-pressure', () => {
  it('a subscriber that stops reading is closed with 4413 once its backlog passes the limit; another on the same process gets every event', async () => {
    // Keep-alive pings off the path: a paused client cannot answer them either.
    const slowGateway = await spawnGateway(t, { ROLE: 'api', WS_MAX_QUEUED_EVENTS: '50', WS_MAX_BUFFERED_BYTES: '65536', WS_KEEPALIVE_MS: '600000' });
    const url = /GraphQL: (http:\/\/\S+)\/graphql/.exec(slowGateway.output())![1];
    const customerId = (await t.run(CreateCustomerDocument, { input: { name: `Busy ${'x'.repeat(400)}`, email: `busy.${Date.now()}@example.com` } })).createCustomer.customer.id;
    const query = 'subscription($f: CustomerEventFilter) { customerUpdated(filter: $f) { id name version } }';
    const fast = subscribe(url, t.adminKey, query, { f: { id: customerId } });
    const slow = subscribe(url, t.adminKey, query, { f: { id: customerId } });
    try {
      await Promise.all([fast.ready(customerId, probe(customerId)), slow.ready(customerId, probe(customerId))]);
      const start = await quiet(() => fast.events.length);
      // The slow client stops reading its socket: TCP fills up, then the server's buffers.
      slow.pause();
      const [customer] = (await t.gateway.services.customers.findByIds([rowId(customerId)])) as Customer[];
      const total = 8_000;
      for (let i = 0; i < total; i++) t.gateway.services.events.publish('customer.updated', customer);
      // The server gives up on the stalled client (its metric says so) ...
      await until(async () => /switchboard_ws_closed_by_server_total\{reason="slow_consumer"\} 1/.test(await scrapeMetrics(url, t.adminKey)), 60_000, 100);
      // ... and reading again, the client finds the close frame after what fitted before it.
      slow.resume();
      expect(await slow.closed).toMatchObject({ code: 4413 });
      expect(slow.events.length).toBeLessThan(total);
      // Nobody else was held up.
      await until(() => fast.events.length === start + total, 60_000, 50);
      expect(fast.errors).toEqual([]);
    } finally {
      await Promise.all([fast.dispose(), slow.dispose()]);
      await slowGateway.stop();
    }
  });
});
