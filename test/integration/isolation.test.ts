import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgBoss } from 'pg-boss';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import type { RecordedRequest } from '../../src/sandbox/fake-server.js';
import { CreateIntegrationDocument, PauseIntegrationDocument, PushCustomersDocument, ResumeIntegrationDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { rowId, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { fixture, newWhsec, post, standardHeaders, waitProcessed } from '../support/webhooks.js';
import { toGlobalId } from '../../src/domain/shared/ids.js';
import { inboundFetchSql } from '../../src/jobs/fair-fetch.js';

let t: TestGateway;
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
  // The default WORKER_CONCURRENCY (20): isolation has to hold with the places a worker has by default.
  t = await startTestGateway({ SHUTDOWN_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

/** A Stripe integration on the shared fake with a key of its own (its faults are set per key: byCredential). */
async function stripe(name: string, key: string, settings: Record<string, unknown> = {}) {
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'STRIPE', name, baseUrl: sandbox.stripe.url, credentials: { apiKey: key }, settings },
  });
  return createIntegration.integration.id;
}

let customerSeq = 0;
/** `n` new customers (inserted directly: only their jobs matter here), as global ids. */
async function customers(n: number): Promise<string[]> {
  const first = customerSeq;
  customerSeq += n;
  const rows = await t.sql<{ id: string }>(
    `INSERT INTO customer (id, name, email) SELECT gen_random_uuid(), 'Isolation ' || i, 'isolation.' || i || '@example.com'
     FROM generate_series($1::int, $2::int) i RETURNING id`,
    [first, first + n - 1],
  );
  return rows.map((r) => toGlobalId('Customer', r.id));
}

/** pushCustomers in one mutation; the job ids in the order given. */
async function push(integrationId: string, customerIds: string[], idempotencyKey?: string): Promise<string[]> {
  const { pushCustomers } = await t.run(PushCustomersDocument, { customerIds, integrationId, idempotencyKey });
  return pushCustomers.jobs.map((j) => j.id);
}

const callsOf = (key: string) => sandbox.stripe.requests.filter((r) => r.headers.authorization === `Bearer ${key}`);
const inFlight = (key: string) => callsOf(key).filter((r) => r.answeredAt === null).length;
/** The most calls that were in flight at once. */
const maxInFlight = (calls: RecordedRequest[]) => Math.max(0, ...calls.map((c) => calls.filter((d) => d.at <= c.at && c.at < (d.answeredAt ?? Infinity)).length));
/** The call that carried this job (the provider key is `switchboard-<job id>`). */
const callOf = (key: string, jobId: string) => callsOf(key).find((r) => r.headers['idempotency-key'] === `switchboard-${rowId(jobId)}`)!;

/** /metrics as (name, labels) -> value. */
async function metrics(): Promise<(name: string, labels: Record<string, string>) => number | undefined> {
  const text = await scrapeMetrics(t.url, t.adminKey);
  const samples = text
    .split('\n')
    .map((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1], labels: Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]])), value: Number(m[3]) }));
  return (name, labels) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('isolation between integrations (outbound)', () => {
  it("a healthy integration's 5 jobs complete within 1 s while another integration holds 100 jobs at a 3 s provider", async () => {
    const slowKey = 'sk_test_isolation_slow_3s';
    sandbox.stripe.setFaults({ byCredential: { [slowKey]: { latencyMs: 3_000 } } });
    const slow = await stripe('Slow provider', slowKey);
    const healthy = await stripe('Healthy provider', 'sk_test_isolation_healthy_1');
    await push(slow, await customers(100));
    // Its backlog at full steam: its whole concurrency cap (10) in flight once its 3 s calls are known.
    await until(() => inFlight(slowKey) >= 10, 15_000);
    const started = Date.now();
    const jobs = await push(healthy, await customers(5));
    const done = await waitForJobs(t, jobs, undefined, 10_000);
    const tookMs = Date.now() - started;
    expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));
    expect(tookMs).toBeLessThan(1_000);
    // The slow integration went on with its own backlog meanwhile (it lost nothing to the healthy one).
    expect(inFlight(slowKey)).toBeGreaterThanOrEqual(9);
    await t.run(PauseIntegrationDocument, { id: slow });
  });

  it("the same while another integration's provider hangs until the 10 s timeout", async () => {
    const hangKey = 'sk_test_isolation_hanging';
    sandbox.stripe.setFaults({ byCredential: { [hangKey]: { hangRate: 1 } } });
    const hanging = await stripe('Hanging provider', hangKey, { timeoutMs: 10_000 });
    const healthy = await stripe('Healthy provider 2', 'sk_test_isolation_healthy_2');
    await push(hanging, await customers(50));
    await until(() => inFlight(hangKey) >= 1, 10_000);
    const started = Date.now();
    const jobs = await push(healthy, await customers(5));
    const done = await waitForJobs(t, jobs, undefined, 10_000);
    const tookMs = Date.now() - started;
    expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));
    expect(tookMs).toBeLessThan(1_000);
    // Calls of a provider not yet seen to answer count as long as its timeout against its
    // in-flight budget (4 timeouts by default): four of them, not its concurrency cap of 10.
    expect(inFlight(hangKey)).toBeLessThanOrEqual(4);
    await t.run(PauseIntegrationDocument, { id: hanging });
  });

  it('three integrations competing: per-entity order, the rate limit and the concurrency caps hold, and each progresses beside the others', async () => {
    const [aKey, bKey, cKey] = ['sk_test_compete_a', 'sk_test_compete_b', 'sk_test_compete_c'];
    sandbox.stripe.setFaults({ byCredential: { [aKey]: { latencyMs: 100 }, [cKey]: { latencyMs: 50 } } });
    const a = await stripe('Compete A', aKey, { concurrency: 2 });
    const b = await stripe('Compete B', bKey, { requestsPerSecond: 4 });
    const c = await stripe('Compete C', cKey, { concurrency: 3 });
    // A: four customers, three jobs each (three pushes of the same customers); B: 12; C: 30.
    const aCustomers = await customers(4);
    const rounds: string[][] = [];
    const pushes: Array<Promise<unknown>> = [];
    for (let r = 0; r < 3; r++) rounds.push(await push(a, aCustomers, `round-${r}`));
    let bJobs: string[] = [];
    let cJobs: string[] = [];
    pushes.push(customers(12).then(async (ids) => (bJobs = await push(b, ids))));
    pushes.push(customers(30).then(async (ids) => (cJobs = await push(c, ids))));
    await Promise.all(pushes);
    const done = await waitForJobs(t, [...rounds.flat(), ...bJobs, ...cJobs], undefined, 30_000);
    expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));

    expect(maxInFlight(callsOf(aKey))).toBeLessThanOrEqual(2);
    expect(maxInFlight(callsOf(cKey))).toBeLessThanOrEqual(3);
    // B: no second (window of 1,000 ms) with more than its 4 requests.
    const bCalls = callsOf(bKey);
    expect(bCalls).toHaveLength(12);
    expect(Math.max(...bCalls.map((x) => bCalls.filter((y) => y.at >= x.at && y.at < x.at + 1_000).length))).toBeLessThanOrEqual(4);
    // A: each customer's three jobs ran one after the other, in the order they were enqueued.
    for (let i = 0; i < aCustomers.length; i++) {
      const calls = rounds.map((jobs) => callOf(aKey, jobs[i]));
      for (let r = 1; r < calls.length; r++) expect(calls[r].at).toBeGreaterThanOrEqual(calls[r - 1].answeredAt!);
    }
    // All three progressed together: each one's first call came before the others' last.
    const spans = [aKey, bKey, cKey].map((k) => ({ first: Math.min(...callsOf(k).map((x) => x.at)), last: Math.max(...callsOf(k).map((x) => x.at)) }));
    for (const s of spans) for (const o of spans) expect(s.first).toBeLessThanOrEqual(o.last);
  });

  it('an integration at its concurrency cap holds no worker place while its jobs wait (switchboard_worker_places)', async () => {
    const key = 'sk_test_isolation_capped';
    sandbox.stripe.setFaults({ byCredential: { [key]: { latencyMs: 500 } } });
    const capped = await stripe('Capped', key, { concurrency: 2 });
    const row = rowId(capped);
    const jobs = await push(capped, await customers(12));
    let seen = 0;
    await until(async () => {
      const m = await metrics();
      if ((m('switchboard_integration_jobs_waiting', { integration: row, reason: 'concurrency_cap' }) ?? 0) === 0) return false;
      // Waiting at its cap: only the two calls in flight hold places; nothing fetched waits for a slot.
      expect(m('switchboard_integration_slots_in_use', { integration: row })).toBeLessThanOrEqual(2);
      expect(m('switchboard_worker_places', { integration: row, state: 'running' })).toBeLessThanOrEqual(2);
      expect(m('switchboard_worker_places', { integration: row, state: 'ready' })).toBe(0);
      const [{ n }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'provider-calls' AND group_id = $1 AND state = 'active'`, [row]);
      expect(n).toBeLessThanOrEqual(2);
      return ++seen >= 3;
    }, 10_000);
    await waitForJobs(t, jobs, undefined, 20_000);
    const m = await metrics();
    expect(m('switchboard_integration_slot_wait_seconds_count', { integration: row })).toBe(12);
    expect(m('switchboard_worker_busy_seconds_total', { integration: row })).toBeGreaterThan(12 * 0.5 * 0.9);
    expect(m('switchboard_worker_time_share', { integration: row })).toBeGreaterThan(0);
  });

  it('in-flight budget: a provider that takes 600 ms gets budget / 600 ms calls in flight, not its concurrency cap', async () => {
    const key = 'sk_test_isolation_budget';
    sandbox.stripe.setFaults({ byCredential: { [key]: { latencyMs: 600 } } });
    const budgeted = await stripe('Budgeted', key, { concurrency: 10, inFlightBudgetMs: 1_500, timeoutMs: 2_000 });
    const jobs = await push(budgeted, await customers(10));
    await waitForJobs(t, jobs, undefined, 20_000);
    // First one call (its calls count as long as its 2 s timeout until one has finished), then two
    // (1,500 / 600 ms): never the ten its concurrency would allow.
    expect(maxInFlight(callsOf(key))).toBe(2);
    const m = await metrics();
    expect(m('switchboard_integration_expected_call_seconds', { integration: rowId(budgeted) })).toBeGreaterThan(0.55);
  });
});

describe('isolation between integrations (webhook processing)', () => {
  it("a flood of one integration's queued events does not hold back another integration's event", async () => {
    const make = async (name: string) => {
      const secret = newWhsec();
      const { createIntegration } = await t.run(CreateIntegrationDocument, {
        input: { provider: 'GENERIC', name, baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: secret },
      });
      return { id: rowId(createIntegration.integration.id), url: createIntegration.integration.webhookUrl, secret };
    };
    const flooded = await make('Flooded');
    const quiet = await make('Quiet');
    // 6,000 stored events of the flooded integration, queued as the ingress queues them (jobs of
    // up to 500 events of one integration, in its group), ahead of the quiet integration's event.
    const body = JSON.stringify(fixture('generic', 'invoice.paid'));
    const ids = (
      await t.sql<{ id: string }>(
        `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, correlation_id)
         SELECT gen_random_uuid(), $1, 'GENERIC', 'flood_' || i, 'invoice.paid', $2, 'flood' FROM generate_series(1, 6000) i RETURNING id`,
        [flooded.id, body],
      )
    ).map((r) => r.id);
    const boss = t.gateway.boss;
    for (let i = 0; i < ids.length; i += 500) await boss.insert('inbound', t.gateway.services.webhooks.jobsFor(ids.slice(i, i + 500), flooded.id));
    await until(async () => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status <> 'RECEIVED'`, [flooded.id]))[0].n > 0, 10_000);

    const msgId = `msg_quiet_${Date.now()}`;
    expect((await post(quiet.url, body, standardHeaders(msgId, body, quiet.secret))).status).toBe(200);
    await waitProcessed(t, quiet.id, [msgId], 10_000);
    // Processed while most of the flood still waits: it did not queue behind it.
    const [{ n: left }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status = 'RECEIVED'`, [flooded.id]);
    expect(left).toBeGreaterThan(2_000);
    await t.run(PauseIntegrationDocument, { id: toGlobalId('Integration', flooded.id) });
  });
});

describe('entries queued by a version before the fair fetch (no integration group)', () => {
  it('are put into their integration group by the sweep: an outbound entry from its data, an inbound entry naming two integrations split in two; then they run', async () => {
    const integrationId = await stripe('Ungrouped outbound', 'sk_test_isolation_ungrouped');
    const row = rowId(integrationId);
    await t.run(PauseIntegrationDocument, { id: integrationId });
    const [jobId] = await push(integrationId, await customers(1));
    await t.sql(`UPDATE pgboss.job SET group_id = NULL WHERE id = (SELECT queue_job_id FROM integration_job WHERE id = $1)`, [rowId(jobId)]);

    const make = async (name: string) => {
      const { createIntegration } = await t.run(CreateIntegrationDocument, {
        input: { provider: 'GENERIC', name, baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: newWhsec() },
      });
      return rowId(createIntegration.integration.id);
    };
    const [first, second] = [await make('Ungrouped one'), await make('Ungrouped two')];
    const body = JSON.stringify(fixture('generic', 'invoice.paid'));
    const events = await t.sql<{ id: string; integration_id: string }>(
      `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, correlation_id)
       VALUES (gen_random_uuid(), $1, 'GENERIC', 'old_1', 'invoice.paid', $3, 'old'), (gen_random_uuid(), $2, 'GENERIC', 'old_2', 'invoice.paid', $3, 'old')
       RETURNING id, integration_id`,
      [first, second, body],
    );
    // An earlier version's processing job: both events, no group.
    await t.gateway.boss.insert('inbound', [{ data: { eventIds: events.map((e) => e.id) } }]);

    expect(await t.gateway.services.jobs.groupUngrouped()).toBeGreaterThanOrEqual(2);
    expect(await t.sql(`SELECT group_id FROM pgboss.job WHERE id = (SELECT queue_job_id FROM integration_job WHERE id = $1)`, [rowId(jobId)])).toEqual([{ group_id: row }]);
    const inbound = await t.sql<{ group_id: string; events: string[] }>(
      `SELECT group_id, ARRAY(SELECT jsonb_array_elements_text(data->'eventIds')) AS events FROM pgboss.job WHERE name = 'inbound' AND data->'eventIds' ?| $1 ORDER BY group_id`,
      [events.map((e) => e.id)],
    );
    expect(inbound).toEqual(events.map((e) => ({ group_id: e.integration_id, events: [e.id] })).sort((x, y) => x.group_id.localeCompare(y.group_id)));
    await waitProcessed(t, first, ['old_1'], 10_000);
    await waitProcessed(t, second, ['old_2'], 10_000);
    await t.run(ResumeIntegrationDocument, { id: integrationId });
    expect(await waitForJobs(t, [jobId], undefined, 10_000)).toEqual(new Map([[rowId(jobId), 'COMPLETED']]));
  });
});

describe('the fair fetch claims entries as pg-boss does', () => {
  it("an entry it fetched is active with pg-boss's own columns, its settle is fenced to the delivery, and a retry counts as pg-boss counts it", async () => {
    const boss = new PgBoss({ connectionString: t.databaseUrl, schema: 'pgboss', supervise: false, schedule: false, max: 2 });
    await boss.start();
    try {
      const queue = `fair-claim-${Date.now()}`;
      await boss.createQueue(queue, { policy: 'standard', retryLimit: 3, retryDelay: 0 });
      const [{ id: integration }] = await t.sql<{ id: string }>(`SELECT id FROM integration LIMIT 1`);
      const [theirs, ours] = await boss.insert(queue, [{ data: { n: 1 } }, { data: { n: 2 } }].map((j) => ({ ...j, group: { id: integration } })), { returnId: true }) as string[];
      await t.sql(`UPDATE pgboss.job SET start_after = now() + interval '1 hour' WHERE id = $1`, [ours]);
      const [fetchedByBoss] = await boss.fetch(queue, { batchSize: 1 });
      expect(fetchedByBoss.id).toBe(theirs);
      await t.sql(`UPDATE pgboss.job SET start_after = now() WHERE id = $1`, [ours]);
      const [{ table_name: table }] = await t.sql<{ table_name: string }>(`SELECT table_name FROM pgboss.queue WHERE name = $1`, [queue]);
      const fetch = () => t.sql<{ id: string; retryCount: number; groupId: string }>(inboundFetchSql(table), [queue, 5, [], [], 5]);
      const [fetchedByUs] = await fetch();
      expect(fetchedByUs).toMatchObject({ id: ours, retryCount: 0, groupId: integration });
      const columns = `state, started_on IS NOT NULL AS started, heartbeat_on IS NOT NULL AS heartbeat, retry_count, completed_on`;
      const [a, b] = await Promise.all([theirs, ours].map(async (id) => (await t.sql(`SELECT ${columns} FROM pgboss.job WHERE id = $1`, [id]))[0]));
      expect(b).toEqual(a);
      // A failed delivery comes back as a retry; fetched again, it counts one re-delivery, as pg-boss's fetch counts it.
      await boss.fail(queue, [{ id: ours, retryCount: 0 }] as never);
      expect(await fetch()).toMatchObject([{ id: ours, retryCount: 1 }]);
      // A settle fenced to the first delivery changes nothing now; one fenced to this one completes it.
      await boss.complete(queue, [{ id: ours, retryCount: 0 }] as never);
      expect((await t.sql(`SELECT state FROM pgboss.job WHERE id = $1`, [ours]))[0]).toEqual({ state: 'active' });
      await boss.complete(queue, [{ id: ours, retryCount: 1 }] as never);
      expect((await t.sql(`SELECT state FROM pgboss.job WHERE id = $1`, [ours]))[0]).toEqual({ state: 'completed' });
      await boss.deleteQueue(queue);
    } finally {
      await boss.stop({ graceful: false, close: true });
    }
  });
});
