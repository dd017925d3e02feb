import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import type { StripeState } from '../../src/providers/stripe/fake.js';
import { CreateIntegrationDocument, IntegrationDocument, JobDocument, PushCustomerDocument, UpdateIntegrationDocument } from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { rowId, STRIPE_KEY, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';

let t: TestGateway;
let sandbox: Sandbox;
const logLines: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ CIRCUIT_COOLDOWN_MS: '400', CIRCUIT_FAILURE_THRESHOLD: '5', LOG_LEVEL: 'debug', WORKER_CONCURRENCY: '40' }, { logSink: (line) => logLines.push(line) });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

async function stripeIntegration(name: string, settings: Record<string, unknown>) {
  return (await t.run(CreateIntegrationDocument, { input: { provider: 'STRIPE', name, baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, settings } }))
    .createIntegration.integration.id;
}

async function pushMany(integrationId: string, n: number, prefix: string): Promise<string[]> {
  const customers = await t.sql<{ id: string }>(
    `INSERT INTO customer (id, name, email) SELECT gen_random_uuid(), $2 || ' ' || i, lower($2) || i || '@example.com' FROM generate_series(1, $1::int) i RETURNING id`,
    [n, prefix],
  );
  const jobs: string[] = [];
  // Ten clients at a time, as apps would call.
  for (let i = 0; i < customers.length; i += 10) {
    const batch = customers.slice(i, i + 10);
    const results = await Promise.all(batch.map((c) => t.run(PushCustomerDocument, { customerId: c.id, integrationId })));
    jobs.push(...results.map((r) => r.pushCustomer.job.id));
  }
  return jobs;
}

describe('fault matrix', () => {
  it('500 jobs against 30% transient errors, 5% hangs and 429 bursts: every job ends COMPLETED or FAILED; one object per key; logs match attempts', async () => {
    sandbox.stripe.reset();
    const integrationId = await stripeIntegration('matrix', { timeoutMs: 400, retryBaseDelayMs: 50, retryMaxDelayMs: 500, requestsPerSecond: 1000, concurrency: 40 });
    sandbox.stripe.setFaults({ errorRate: 0.3, hangRate: 0.05, burst429: 20, retryAfterSeconds: 0 });
    const jobIds = await pushMany(integrationId, 500, 'Matrix');
    // Another burst of 429s while the queue drains.
    sandbox.stripe.setFaults({ burst429: 30 });
    const done = await waitForJobs(t, jobIds, ['COMPLETED', 'FAILED'], 240_000);
    expect(done.size).toBe(500);

    const rows = await t.sql<{ id: string; status: string; attempts: number; logs: number }>(
      `SELECT j.id, j.status, j.attempts, (SELECT count(*)::int FROM integration_log l WHERE l.job_id = j.id) AS logs
       FROM integration_job j WHERE j.integration_id = $1`,
      [rowId(integrationId)],
    );
    expect(rows).toHaveLength(500);
    expect(rows.filter((r) => !['COMPLETED', 'FAILED'].includes(r.status))).toEqual([]);
    // One IntegrationLog row per attempt made.
    expect(rows.filter((r) => r.logs !== r.attempts)).toEqual([]);
    const completed = rows.filter((r) => r.status === 'COMPLETED').length;
    expect(completed).toBeGreaterThanOrEqual(490);

    const stripe = sandbox.stripe.state<StripeState>();
    expect(Object.values(stripe.createdPerKey).every((n) => n === 1)).toBe(true);
    expect(Object.keys(stripe.customers).length).toBeLessThanOrEqual(500);
    expect(Object.keys(stripe.customers).length).toBeGreaterThanOrEqual(completed);
    // Every completed job is linked to exactly one provider object.
    const refs = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM external_ref WHERE integration_id = $1`, [rowId(integrationId)]);
    expect(refs[0].n).toBe(completed);
    const metrics = await scrapeMetrics(t.url, t.adminKey);
    for (const kind of ['timeout', 'server', 'rate_limited']) {
      expect(metrics).toMatch(new RegExp(`switchboard_provider_errors_total\\{integration="${rowId(integrationId)}",provider="STRIPE",operation="customer.upsert",kind="${kind}"\\} [1-9]`));
    }
    expect(metrics).toMatch(/switchboard_queue_depth\{integration="[^"]+"\} \d+/);
  }, 300_000);
});

describe('circuit breaker', () => {
  it('opens during an outage, lets only half-open probes through, closes after recovery and runs the deferred jobs', async () => {
    sandbox.stripe.reset();
    const integrationId = await stripeIntegration('outage', { timeoutMs: 500, retryBaseDelayMs: 20, retryMaxDelayMs: 100, maxAttempts: 50, requestsPerSecond: 1000 });
    sandbox.stripe.setFaults({ outage: true });
    const jobIds = await pushMany(integrationId, 20, 'Outage');
    await until(async () => (await t.run(IntegrationDocument, { id: integrationId })).integration.circuit === 'OPEN');
    const openedAt = Date.now();
    // Let several cool-downs pass: wait until two probes have been made.
    const before = sandbox.stripe.requests.length;
    await until(() => sandbox.stripe.requests.filter((r) => r.at > openedAt + 50).length >= 2, 20_000);
    const probes = sandbox.stripe.requests.slice(before).filter((r) => r.at > openedAt + 50).map((r) => r.at);
    // While open, calls come one per cool-down (400 ms), never in a crowd.
    for (let i = 1; i < probes.length; i++) expect(probes[i] - probes[i - 1]).toBeGreaterThanOrEqual(300);
    const waiting = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration_job WHERE integration_id = $1 AND status IN ('PENDING','RETRYING')`, [rowId(integrationId)]);
    expect(waiting[0].n).toBeGreaterThan(0);

    sandbox.stripe.setFaults({ outage: false });
    const done = await waitForJobs(t, jobIds, ['COMPLETED', 'FAILED'], 60_000);
    expect([...done.values()].every((s) => s === 'COMPLETED')).toBe(true);
    expect((await t.run(IntegrationDocument, { id: integrationId })).integration.circuit).toBe('CLOSED');
    // Deferred jobs spent no attempts while the circuit was open.
    const attempts = await t.sql<{ total: number }>(`SELECT sum(attempts)::int AS total FROM integration_job WHERE integration_id = $1`, [rowId(integrationId)]);
    expect(attempts[0].total).toBe(sandbox.stripe.requests.length);
    expect(attempts[0].total).toBeLessThan(20 + 10 + probes.length + 20);
  }, 90_000);
});

describe('secrets', () => {
  it('the credential never appears in logs, errors, responses or IntegrationLog rows', async () => {
    const secret = 'sk_test_SECRETVALUE_9f8e7d6c5b4a';
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'secret', baseUrl: sandbox.stripe.url, credentials: { apiKey: secret }, webhookSecret: 'whsec_SECRETWEBHOOK_123456', settings: { timeoutMs: 300, maxAttempts: 2, retryBaseDelayMs: 10 } },
    });
    const integrationId = createIntegration.integration.id;
    const responses: string[] = [JSON.stringify(createIntegration)];
    // Success, a provider failure, and a rotation.
    sandbox.stripe.setFaults({ errorRate: 0, outage: false });
    const ok = await pushMany(integrationId, 2, 'Secret');
    await waitForJobs(t, ok);
    sandbox.stripe.setFaults({ outage: true });
    const failing = await pushMany(integrationId, 1, 'SecretFail');
    await waitForJobs(t, failing);
    sandbox.stripe.setFaults({ outage: false });
    const rotated = 'sk_test_ROTATEDSECRET_1a2b3c4d';
    responses.push(JSON.stringify(await t.request(UpdateIntegrationDocument, { id: integrationId, input: { credentials: { apiKey: rotated } } })));
    responses.push(JSON.stringify(await t.request(UpdateIntegrationDocument, { id: integrationId, input: { credentials: { apiKey: 42 } } })));
    responses.push(JSON.stringify(await t.request(JobDocument, { id: failing[0] })));
    responses.push(JSON.stringify(await t.request(IntegrationDocument, { id: integrationId })));

    const tables = ['integration', 'integration_job', 'integration_log', 'external_ref', 'customer', 'gateway_setting'];
    const dump = (await Promise.all(tables.map((table) => t.sql(`SELECT row_to_json(x)::text AS row FROM ${table} x`)))).flat().map((r) => String(r.row)).join('\n');
    const metrics = await scrapeMetrics(t.url, t.adminKey);
    for (const value of [secret, rotated, 'whsec_SECRETWEBHOOK_123456', 'SECRETVALUE', 'ROTATEDSECRET']) {
      expect(logLines.join('\n')).not.toContain(value);
      expect(responses.join('\n')).not.toContain(value);
      expect(dump).not.toContain(value);
      expect(metrics).not.toContain(value);
    }
    // It did reach the provider, so the search above searched something real.
    expect(sandbox.stripe.requests.some((r) => r.headers.authorization === `Bearer ${secret}`)).toBe(true);
    expect(logLines.length).toBeGreaterThan(10);
  }, 60_000);
});

describe('integration base URLs', () => {
  it.each([
    ['http://api.stripe.example.com', false],
    ['ftp://127.0.0.1', false],
    ['https://user:pass@api.stripe.com', false],
    ['https://api.stripe.com', true],
    ['http://127.0.0.1:4010', true],
    ['http://localhost:4010', true],
    ['http://[::1]:4010', true],
  ])('%s is %s', async (baseUrl, allowed) => {
    const res = await t.request(CreateIntegrationDocument, { input: { provider: 'HUBSPOT', name: 'url', baseUrl, credentials: { accessToken: 'pat-x' } } });
    if (allowed) {
      expect(res.body.errors).toBeUndefined();
    } else {
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0].extensions!.field).toBe('baseUrl');
    }
  });

  it('refuses unknown settings keys and wrong credential shapes', async () => {
    const unknown = await t.request(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 's', baseUrl: 'https://api.stripe.com', settings: { retries: 3 } } });
    expect(codes(unknown)).toEqual(['BAD_USER_INPUT']);
    expect(unknown.body.errors![0].extensions!.field).toBe('settings.retries');
    const budget = await t.request(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 's', baseUrl: 'https://api.stripe.com', settings: { inFlightBudgetMs: 10 } } });
    expect(codes(budget)).toEqual(['BAD_USER_INPUT']);
    expect(budget.body.errors![0].extensions!.field).toBe('settings.inFlightBudgetMs');
    const creds = await t.request(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 's', baseUrl: 'https://api.stripe.com', credentials: { token: 'x' } } });
    expect(codes(creds)).toEqual(['BAD_USER_INPUT']);
    expect(await t.sql(`SELECT id FROM integration WHERE name = 's'`)).toHaveLength(0);
  });
});
