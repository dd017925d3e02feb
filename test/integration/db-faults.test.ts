import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CreateCustomerDocument, CreateIntegrationDocument, CustomersDocument, PushCustomerDocument } from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { rowId, STRIPE_KEY } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { subscribe } from '../support/subscriptions.js';
import { newWhsec, post, standardHeaders } from '../support/webhooks.js';

/**
 * Database faults, through a TCP proxy between the gateway and PostgreSQL (test/support/tcp-proxy.ts):
 * a stalled server, an unreachable one, a network that swallows packets. The test's own `sql`
 * goes around the proxy. ADR 0010.
 */
const REQUEST_TIMEOUT_MS = 1_500;
let t: TestGateway;
let sandbox: Sandbox;
const SECRET = newWhsec();
let inbox = '';
let inboxRow = '';
let webhookUrl = '';

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ DB_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) }, { proxy: true });
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'GENERIC', name: 'inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
  });
  inbox = createIntegration.integration.id;
  inboxRow = rowId(inbox);
  webhookUrl = `${t.url}/webhooks/${inboxRow}`;
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

let eventNo = 0;
/** A signed GENERIC webhook with a fresh event id (or `id`), and the request's correlation id. */
async function webhook(id = `msg_fault_${++eventNo}_${Date.now()}`, url = webhookUrl) {
  const body = JSON.stringify({ type: 'invoice.paid', data: { id } });
  const correlationId = `corr-${id}`;
  const res = await fetch(url, { method: 'POST', headers: { ...standardHeaders(id, body, SECRET), 'x-correlation-id': correlationId }, body });
  return { id, correlationId, status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json().catch(() => null) };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

const readyz = async () => (await fetch(`${t.url}/readyz`)).status;

/** Until a customers query, /readyz and a webhook all succeed; ms from now. */
async function untilServing(): Promise<number> {
  const started = performance.now();
  await until(async () => (await t.request(CustomersDocument, { first: 1 })).status === 200 && (await readyz()) === 200 && (await webhook()).status === 200, 15_000, 50);
  return performance.now() - started;
}

const metric = async (name: string) => {
  // Read with a key this process has checked before: it still scrapes while the database is away.
  const text = await scrapeMetrics(t.url, t.adminKey);
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
};

describe('a stalled database (its processes paused)', () => {
  it('a mutation answers 503 SERVICE_UNAVAILABLE within DB_REQUEST_TIMEOUT_MS, /readyz 503 within 1 s, a webhook 503; after the stall all three succeed without a restart, and nothing is half-written', async () => {
    await t.run(CreateCustomerDocument, { input: { name: 'Before the stall' } });
    expect((await webhook()).status).toBe(200);
    // An integration the ingress has not looked up yet: the webhook needs two database steps.
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'GENERIC', name: 'second inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
    });
    const secondRow = rowId(createIntegration.integration.id);
    const secondUrl = `${t.url}/webhooks/${secondRow}`;

    t.proxy!.stall();
    try {
      const [mutation, ready, hook] = await Promise.all([
        timed(() => t.request(CreateCustomerDocument, { input: { name: 'During the stall' } })),
        timed(readyz),
        timed(() => webhook('msg_during_stall', secondUrl)),
      ]);
      expect(mutation.value.status).toBe(503);
      expect(mutation.value.headers.get('retry-after')).toBe('2');
      expect(codes(mutation.value)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(mutation.value.body.errors![0].extensions).toMatchObject({ retryAfterSeconds: 2 });
      expect(mutation.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
      expect(ready.value).toBe(503);
      expect(ready.ms).toBeLessThan(1_000);
      expect(hook.value.status).toBe(503);
      expect(hook.value.retryAfter).toBe('2');
      expect(hook.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
    } finally {
      t.proxy!.resume();
    }

    await untilServing();
    expect((await t.run(CreateCustomerDocument, { input: { name: 'After the stall' } })).createCustomer.customer.id).toBeTruthy();
    // The mutation that answered 503 wrote nothing: its transaction never committed.
    expect(await t.sql(`SELECT name FROM customer WHERE name = 'During the stall'`)).toEqual([]);
    // The webhook that answered 503 is sent again by the provider: then stored exactly once.
    expect((await webhook('msg_during_stall', secondUrl)).status).toBe(200);
    expect(await t.sql(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND external_event_id = 'msg_during_stall'`, [secondRow])).toEqual([{ n: 1 }]);
  });

  it('an open subscription is told once (SERVICE_UNAVAILABLE), stays open, and receives events again after the stall', async () => {
    const sub = subscribe(t.url, t.adminKey, 'subscription($f: IntegrationEventFilter) { integrationLogAdded(filter: $f) { id correlationId } }', { f: { integrationId: inbox } });
    await sub.connected;
    const received = (correlationId: string) => sub.events.some((e: any) => e.integrationLogAdded.correlationId === correlationId);
    // Registered once a webhook's log row arrives.
    const probes: string[] = [];
    await until(async () => {
      probes.push((await webhook()).correlationId);
      return probes.some(received);
    }, 10_000, 100);
    try {
      t.proxy!.stall();
      try {
        await until(() => sub.errors.length > 0, 10_000, 50);
      } finally {
        t.proxy!.resume();
      }
      expect(sub.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }) })]);
      // Still open: an event published after the stall arrives on the same subscription.
      const resumed = performance.now();
      let sent = '';
      await until(async () => {
        const hook = await webhook();
        if (hook.status === 200 && !sent) sent = hook.correlationId;
        return sent && received(sent);
      }, 10_000, 100);
      expect(performance.now() - resumed).toBeLessThan(3_000);
      expect(sub.errors).toHaveLength(1);
    } finally {
      await sub.dispose();
    }
  });
});

describe('an unreachable database (connections refused and reset)', () => {
  it('answers 503 SERVICE_UNAVAILABLE with Retry-After, never INTERNAL_SERVER_ERROR; reports the outage in /metrics; serves again within 2 s of the database being reachable', async () => {
    const outagesBefore = await metric('switchboard_db_outages_total');
    t.proxy!.refuse();
    let back = 0;
    try {
      await until(async () => (await readyz()) === 503, 5_000, 50);
      for (let i = 0; i < 3; i++) {
        const res = await t.request(CustomersDocument, { first: 1 });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('2');
        expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
        const hook = await webhook();
        expect(hook.status).toBe(503);
      }
      expect(await metric('switchboard_db_available')).toBe(0);
    } finally {
      t.proxy!.resume();
      back = await untilServing();
    }
    expect(back).toBeLessThan(2_000);
    expect(await metric('switchboard_db_available')).toBe(1);
    expect(await metric('switchboard_db_outages_total')).toBeGreaterThan(outagesBefore);
    expect(await metric('switchboard_db_last_outage_seconds')).toBeGreaterThan(0);
    expect(await metric('switchboard_db_reconnects_total')).toBeGreaterThan(0);
    expect(await metric('switchboard_db_last_success_age_seconds{pool="data_source"}')).toBeLessThan(5);
  });
});

describe('a network that swallows everything (blackhole)', () => {
  it('requests answer 503 within the bound; afterwards the silent connections are replaced and the gateway serves again within 2 s', async () => {
    expect(await untilServing()).toBeLessThan(2_000);
    // Several pooled connections, idle when the network goes: they stay silent afterwards.
    await Promise.all(Array.from({ length: 8 }, () => t.run(CustomersDocument, { first: 1 })));
    t.proxy!.blackhole();
    let back = 0;
    try {
      const { value, ms } = await timed(() => t.request(CustomersDocument, { first: 1 }));
      expect(value.status).toBe(503);
      expect(codes(value)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
      await until(async () => (await readyz()) === 503, 5_000, 50);
    } finally {
      // The connections opened before stay dead (their bytes were lost); new ones pass.
      t.proxy!.resume();
      back = await untilServing();
    }
    expect(back).toBeLessThan(2_000);
  });
});

describe('a job whose provider call is under way when the database goes away', () => {
  it('is recorded COMPLETED once the database is back, from its one call: the provider is not called again', async () => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'stripe slow', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY } },
    });
    const customer = (await t.run(CreateCustomerDocument, { input: { name: 'Pushed through an outage', email: 'outage@example.com' } })).createCustomer.customer.id;
    sandbox.stripe.setFaults({ latencyMs: 1_000 });
    try {
      const { pushCustomer } = await t.run(PushCustomerDocument, { customerId: customer, integrationId: createIntegration.integration.id });
      const job = rowId(pushCustomer.job.id);
      const key = `switchboard-${job}`;
      const calls = () => sandbox.stripe.requests.filter((r) => r.headers['idempotency-key'] === key);
      // Generous too: after the blackhole test (which leaves idle connections silent) the worker
      // took over 10 s to start this job once, in CI's pass against PostgreSQL 15. The blackhole
      // test bounds the API's recovery; this one is about the call's single outcome.
      await until(() => calls().length > 0, 30_000, 20);
      t.proxy!.refuse();
      try {
        // The call ends while the database is unreachable.
        await until(() => calls().length > 0 && calls().every((c) => c.answeredAt !== null), 10_000, 20);
        await new Promise((r) => setTimeout(r, 300)); // the outcome's first write fails meanwhile
        expect((await t.sql(`SELECT status FROM integration_job WHERE id = $1`, [job]))[0].status).toBe('PROCESSING');
      } finally {
        t.proxy!.resume();
      }
      // Generous: on a loaded CI server new connections can be slow to come; what this test
      // checks is below (one attempt, one call), which a re-delivery of the job would break.
      await until(async () => (await t.sql(`SELECT status FROM integration_job WHERE id = $1`, [job]))[0].status === 'COMPLETED', 30_000, 50);
      expect(await t.sql(`SELECT attempts FROM integration_job WHERE id = $1`, [job])).toEqual([{ attempts: 1 }]);
      expect(calls().filter((c) => c.method === 'POST' && c.path === '/v1/customers')).toHaveLength(1);
    } finally {
      sandbox.stripe.setFaults({ latencyMs: 0 });
    }
  });
});
