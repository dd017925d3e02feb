/**
 * `npm run bench:isolation`: a healthy integration's outbound jobs (push to COMPLETED) and webhook
 * events (received to PROCESSED), alone and then beside noisy neighbours, with the gateway's
 * default settings (WORKER_CONCURRENCY 20, each integration's concurrency 10 and timeout 10 s):
 *
 * - a provider answering in 3 s, with a backlog of 1,000 jobs;
 * - a provider that never answers (each call runs into the 10 s timeout), with 200 jobs;
 * - a provider answering every request 429 with Retry-After: 1, with 200 jobs;
 * - an integration with 100,000 stored webhook events queued for processing.
 *
 * Each provider is a sandbox process of its own (bench/support.ts sandboxProcess); the healthy
 * one answers at once. The bench's own process runs the gateway. Prints p50/p99 alone and with
 * neighbours and their ratio (target: p99 with neighbours at most 2x alone), and the slow
 * integration's throughput against its concurrency / latency (target: within 10 %).
 *
 * BENCH_PHASE_SECONDS (default 20) sets how long each phase pushes the healthy integration's
 * work: 5 jobs (one pushCustomers) every 500 ms and one webhook event every 100 ms.
 */
import 'reflect-metadata';
import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { benchDatabase, benchGateway, fmt, graphqlClient, insertCustomers, sandboxProcess } from './support.js';

const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 20);
const FLOOD_EVENTS = Number(process.env.BENCH_FLOOD_EVENTS ?? 100_000);
const SLOW_LATENCY_MS = 3_000;
const SLOW_BACKLOG = 1_000;
const HANGING_BACKLOG = 200;
const THROTTLED_BACKLOG = 200;
const JOBS_EVERY_MS = 500;
const JOBS_PER_PUSH = 5;
const EVENTS_EVERY_MS = 100;
/** After a phase, how long its work may still take before what is unfinished counts as not done. */
const SETTLE_MS = 60_000;

// BENCH_STATEMENTS=1: PostgreSQL's statements during the phase with neighbours, by total time (pg_stat_statements).
const STATEMENTS = process.env.BENCH_STATEMENTS === '1';
const db = await benchDatabase({ statStatements: STATEMENTS });
const [healthySandbox, slowSandbox, hangingSandbox, throttledSandbox] = await Promise.all([sandboxProcess(), sandboxProcess(), sandboxProcess(), sandboxProcess()]);
// WORKER_CONCURRENCY from the environment (default: the gateway's default) to compare settings.
const { gateway, adminKey } = await benchGateway(db.url, { SHUTDOWN_TIMEOUT_MS: '2000', ...(process.env.WORKER_CONCURRENCY ? { WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY } : {}) });
const sql = new pg.Pool({ connectionString: db.url, max: 4 });
const graphql = graphqlClient(gateway.graphqlUrl, adminKey);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rowIdOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1];
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');

/** A Stripe integration on `baseUrl`; its row id and webhook URL. */
async function integration(name: string, baseUrl: string, settings: Record<string, unknown> = {}, webhookSecret?: string) {
  const data = await graphql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id webhookUrl } } }`, {
    input: { provider: 'STRIPE', name, baseUrl, credentials: { apiKey: `sk_test_${name.replace(/\W/g, '_')}` }, settings, webhookSecret },
  });
  const { id, webhookUrl } = data.createIntegration.integration;
  return { id, row: rowIdOf(id), webhookUrl: webhookUrl as string };
}

/** pushCustomers of new customers; the job row ids. */
async function push(integrationId: string, n: number): Promise<string[]> {
  const ids = (await insertCustomers(sql, n)).map((id) => globalId('Customer', id));
  const data = await graphql(`mutation($c: [ID!]!, $i: ID!) { pushCustomers(customerIds: $c, integrationId: $i) { jobs { id } } }`, { c: ids, i: integrationId });
  return data.pushCustomers.jobs.map((j: { id: string }) => rowIdOf(j.id));
}

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let eventSeq = 0;
/** A Stripe `customer.created` event for a new customer. */
function customerCreated(tag: string): { id: string; body: string } {
  const n = `${tag}${Date.now().toString(36)}${(eventSeq++).toString(36)}`;
  const event = {
    id: `evt_${n}`,
    object: 'event',
    created: Math.floor(Date.now() / 1000),
    type: 'customer.created',
    data: { object: { id: `cus_${n}`, object: 'customer', email: `${n}@example.com`, name: `Event ${n}`, phone: null, metadata: {} } },
  };
  return { id: event.id, body: JSON.stringify(event) };
}

async function postEvent(url: string, body: string): Promise<void> {
  const ts = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', WEBHOOK_SECRET).update(`${ts}.${body}`).digest('hex');
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${ts},v1=${signature}` }, body });
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
}

/** Until `probe` holds; false if it did not within `timeoutMs`. */
async function until(probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** A percentile of sorted latencies; unfinished work is Infinity. */
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
const ms = (v: number) => (Number.isFinite(v) ? `${fmt(v, 0)} ms` : `> ${SETTLE_MS / 1000} s`);

interface PhaseResult {
  jobs: number[];
  events: number[];
  startedAt: Date;
  endedAt: Date;
}

/**
 * PHASE_SECONDS of the healthy integration's work, then until all of it has ended: its jobs'
 * push-to-COMPLETED and its events' received-to-PROCESSED times (ms, from the database's own
 * timestamps), sorted.
 */
async function healthyPhase(healthy: { id: string; row: string; webhookUrl: string }): Promise<PhaseResult> {
  const startedAt = new Date();
  const jobIds: string[] = [];
  const eventIds: string[] = [];
  const end = Date.now() + PHASE_SECONDS * 1000;
  const pushing = (async () => {
    for (let next = Date.now(); next < end; next += JOBS_EVERY_MS) {
      await sleep(next - Date.now());
      jobIds.push(...(await push(healthy.id, JOBS_PER_PUSH)));
    }
  })();
  const posting = (async () => {
    for (let next = Date.now(); next < end; next += EVENTS_EVERY_MS) {
      await sleep(next - Date.now());
      const { id, body } = customerCreated('healthy');
      eventIds.push(id);
      await postEvent(healthy.webhookUrl, body);
    }
  })();
  await Promise.all([pushing, posting]);
  const endedAt = new Date();
  const settleBy = Date.now() + SETTLE_MS;
  await until(
    async () => (await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE id = ANY($1) AND status = 'COMPLETED'`, [jobIds])).rows[0].n === jobIds.length,
    settleBy - Date.now(),
  );
  await until(
    async () =>
      (await sql.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND external_event_id = ANY($2) AND status = 'PROCESSED'`, [healthy.row, eventIds]))
        .rows[0].n === eventIds.length,
    Math.max(0, settleBy - Date.now()),
  );
  // Work not done by then counts as Infinity (printed as "> 60 s").
  const jobs = (
    await sql.query(`SELECT CASE WHEN status = 'COMPLETED' THEN EXTRACT(EPOCH FROM completed_at - created_at) * 1000 END AS ms FROM integration_job WHERE id = ANY($1)`, [jobIds])
  ).rows.map((r) => (r.ms === null ? Infinity : Number(r.ms)));
  const events = (
    await sql.query(
      `SELECT CASE WHEN status = 'PROCESSED' THEN EXTRACT(EPOCH FROM processed_at - received_at) * 1000 END AS ms FROM webhook_event WHERE integration_id = $1 AND external_event_id = ANY($2)`,
      [healthy.row, eventIds],
    )
  ).rows.map((r) => (r.ms === null ? Infinity : Number(r.ms)));
  return { jobs: jobs.sort((a, b) => a - b), events: events.sort((a, b) => a - b), startedAt, endedAt };
}

const healthy = await integration('healthy', healthySandbox.url('stripe'), {}, WEBHOOK_SECRET);
// Warm-up (not measured): the first jobs and events of a process prepare its statements.
await push(healthy.id, JOBS_PER_PUSH);
await postEvent(healthy.webhookUrl, customerCreated('warmup').body);
await sleep(1_000);

console.log(`alone: the healthy integration for ${PHASE_SECONDS} s (${JOBS_PER_PUSH} jobs every ${JOBS_EVERY_MS} ms, an event every ${EVENTS_EVERY_MS} ms) ...`);
const alone = await healthyPhase(healthy);

console.log(`neighbours: ${SLOW_BACKLOG} jobs at a ${SLOW_LATENCY_MS} ms provider, ${HANGING_BACKLOG} at a hanging one, ${THROTTLED_BACKLOG} at one answering 429, ${FLOOD_EVENTS} queued events ...`);
await slowSandbox.setFaults('stripe', { latencyMs: SLOW_LATENCY_MS });
await hangingSandbox.setFaults('stripe', { hangRate: 1 });
await throttledSandbox.setFaults('stripe', { rateLimitRate: 1, retryAfterSeconds: 1 });
const slow = await integration('slow', slowSandbox.url('stripe'));
const hanging = await integration('hanging', hangingSandbox.url('stripe'));
const throttled = await integration('throttled', throttledSandbox.url('stripe'), { maxAttempts: 100 });
const flood = await integration('flood', healthySandbox.url('stripe'), {}, WEBHOOK_SECRET);

// The flood: stored events, queued as the ingress queues them (one processing job per 500 events of one integration).
const floodIds = (
  await sql.query(
    `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, correlation_id)
     SELECT gen_random_uuid(), $1, 'STRIPE', 'evt_flood' || i, 'customer.created',
            jsonb_build_object('id', 'evt_flood' || i, 'object', 'event', 'created', extract(epoch from now())::int, 'type', 'customer.created',
                               'data', jsonb_build_object('object', jsonb_build_object('id', 'cus_flood' || i, 'object', 'customer',
                                 'email', 'flood' || i || '@example.com', 'name', 'Flood ' || i, 'metadata', '{}'::jsonb)))::text,
            'bench-flood'
     FROM generate_series(1, $2::int) i RETURNING id`,
    [flood.row, FLOOD_EVENTS],
  )
).rows.map((r) => r.id as string);
for (let i = 0; i < floodIds.length; i += 500) {
  await gateway.boss.insert('inbound', gateway.services.webhooks.jobsFor(floodIds.slice(i, i + 500), flood.row));
}
for (let i = 0; i < SLOW_BACKLOG; i += 500) await push(slow.id, Math.min(500, SLOW_BACKLOG - i));
await push(hanging.id, HANGING_BACKLOG);
await push(throttled.id, THROTTLED_BACKLOG);
// The neighbours under way: calls of the slow and the hanging provider in flight, 429s answered, events processed.
const started = async (what: string, probe: () => Promise<boolean>) => {
  if (!(await until(probe, 30_000))) console.log(`  (${what} had not started after 30 s)`);
};
await started('the slow provider', async () => (await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE integration_id = $1 AND status = 'PROCESSING'`, [slow.row])).rows[0].n >= 1);
await started('the hanging provider', async () => (await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE integration_id = $1 AND status = 'PROCESSING'`, [hanging.row])).rows[0].n >= 1);
await started('the 429s', async () => (await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE integration_id = $1 AND attempts > 0`, [throttled.row])).rows[0].n >= 1);
await started('the flood', async () => (await sql.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status <> 'RECEIVED'`, [flood.row])).rows[0].n >= 1);
const floodBefore = (await sql.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status <> 'RECEIVED'`, [flood.row])).rows[0].n as number;
if (STATEMENTS) {
  await sql.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
  await sql.query(`SELECT pg_stat_statements_reset()`);
}
const beside = await healthyPhase(healthy);
if (STATEMENTS) {
  const { rows } = await sql.query(
    `SELECT calls, round(total_exec_time)::int AS ms, round(total_plan_time)::int AS plan_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
     FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
  );
  console.log('\nstatements during the phase with neighbours, by total time:');
  for (const r of rows) console.log(`  ${String(r.ms).padStart(7)} ms exec ${String(r.plan_ms).padStart(6)} ms plan ${String(r.calls).padStart(7)} calls  ${r.query}`);
}
const floodAfter = (await sql.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status <> 'RECEIVED'`, [flood.row])).rows[0].n as number;

/**
 * The slow integration's throughput during the phase: jobs completed after its first completion
 * in the phase, over the time from that one to the last. Its calls end in batches (ten start
 * together, three seconds later ten end), so counting from a completion to a completion covers
 * whole batches, where a fixed window would cut one.
 */
const slowDone = (
  await sql.query(`SELECT EXTRACT(EPOCH FROM completed_at) * 1000 AS at FROM integration_job WHERE integration_id = $1 AND status = 'COMPLETED' AND completed_at BETWEEN $2 AND $3 ORDER BY 1`, [
    slow.row,
    beside.startedAt,
    beside.endedAt,
  ])
).rows.map((r) => Number(r.at));
const firstBatch = slowDone.filter((at) => at - slowDone[0] < 500).length;
const slowRate = slowDone.length > firstBatch ? (slowDone.length - firstBatch) / ((slowDone.at(-1)! - slowDone[0]) / 1000) : 0;
// Its concurrency: the default (10).
const conc = 10;
const slowIdeal = conc / (SLOW_LATENCY_MS / 1000);

const { rows: states } = await sql.query(
  `SELECT i.name, i.circuit, count(j.*) FILTER (WHERE j.status = 'PROCESSING')::int AS running, count(j.*) FILTER (WHERE j.status IN ('PENDING', 'RETRYING'))::int AS waiting,
          COALESCE(sum(j.attempts), 0)::int AS attempts
   FROM integration i LEFT JOIN integration_job j ON j.integration_id = i.id GROUP BY i.name, i.circuit ORDER BY i.name`,
);

const line = (what: string, a: number[], b: number[]) => {
  const ratio = percentile(b, 0.99) / percentile(a, 0.99);
  const unfinished = b.filter((v) => !Number.isFinite(v)).length;
  return (
    `${what.padEnd(48)} alone p50 ${ms(percentile(a, 0.5)).padStart(8)}  p99 ${ms(percentile(a, 0.99)).padStart(8)}   ` +
    `with neighbours p50 ${ms(percentile(b, 0.5)).padStart(8)}  p99 ${ms(percentile(b, 0.99)).padStart(8)}   ` +
    `p99 ratio ${Number.isFinite(ratio) ? fmt(ratio, 2) : 'n/a'}   (target <= 2.00${ratio <= 2 ? ', met' : ', NOT met'})` +
    (unfinished ? `   ${unfinished} of ${b.length} not done ${SETTLE_MS / 1000} s after the phase` : '')
  );
};
console.log('');
console.log(line(`healthy jobs, push -> COMPLETED (n=${alone.jobs.length}/${beside.jobs.length})`, alone.jobs, beside.jobs));
console.log(line(`healthy events, received -> PROCESSED (n=${alone.events.length}/${beside.events.length})`, alone.events, beside.events));
const slowRatio = slowRate / slowIdeal;
console.log(
  `slow integration's throughput                ${fmt(slowRate, 2)} jobs/s   concurrency / latency = ${conc} / ${SLOW_LATENCY_MS / 1000} s = ${fmt(slowIdeal, 2)} jobs/s   ratio ${fmt(slowRatio, 2)}   (target 0.90 to 1.10${slowRatio >= 0.9 && slowRatio <= 1.1 ? ', met' : ', NOT met'})`,
);
console.log(`flood: ${floodAfter - floodBefore} of its events processed during the phase (${fmt((floodAfter - floodBefore) / PHASE_SECONDS, 0)} events/s), ${FLOOD_EVENTS - floodAfter} still waiting`);
console.log('\nintegrations at the end:');
for (const s of states) console.log(`  ${String(s.name).padEnd(10)} circuit ${String(s.circuit).padEnd(9)} running ${String(s.running).padStart(3)}  waiting ${String(s.waiting).padStart(5)}  attempts ${s.attempts}`);

await sql.end();
await gateway.stop();
await Promise.all([healthySandbox, slowSandbox, hangingSandbox, throttledSandbox].map((s) => s.stop()));
await db.close();
process.exit(0);
