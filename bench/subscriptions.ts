/**
 * `npm run bench:subscriptions`: 1,000 graphql-ws subscribers on two API processes
 * (integrationJobUpdated for one integration), job updates driven by a worker process
 * (pushCustomer mutations against a zero-latency Stripe sandbox). Prints event-to-client
 * latency p50/p99 (from the job's updatedAt to the client's receipt) and deliveries/s, beside a
 * NOTIFY round trip measured with pg alone in the same run.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startSandbox } from '../src/sandbox/sandbox.js';
import { benchDatabase, fmt } from './support.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const JOBS = Number(process.env.BENCH_JOBS ?? 40);
const JOBS_PER_SECOND = Number(process.env.BENCH_JOBS_PER_SECOND ?? 2);
const NOTIFY_ROUNDS = 1000;
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? 2);

const db = await benchDatabase();
const sandbox = await startSandbox();
const adminKey = `sb_bench_${randomBytes(24).toString('base64url')}`;
const encryptionKey = randomBytes(32).toString('base64');
const main = new URL('../src/main.js', import.meta.url).pathname;
const children: ChildProcess[] = [];

async function gatewayProcess(role: 'api' | 'worker'): Promise<string> {
  const profile = process.env.BENCH_PROFILE_DIR && role === 'api' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, main], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: db.url, ROLE: role, PORT: '0', HOST: '127.0.0.1', ADMIN_API_KEY: adminKey, ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '20' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /GraphQL: (http:\/\/\S+)\/graphql/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`${role} process exited with ${code}`)));
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

// 1. NOTIFY round trip with pg alone: LISTEN on one connection, NOTIFY from another.
async function notifyRoundTrip(): Promise<number[]> {
  const listener = new pg.Client({ connectionString: db.url });
  const sender = new pg.Client({ connectionString: db.url });
  await Promise.all([listener.connect(), sender.connect()]);
  await listener.query('LISTEN bench_rtt');
  const times: number[] = [];
  for (let i = 0; i < NOTIFY_ROUNDS; i++) {
    const arrived = new Promise<void>((resolve) => listener.once('notification', () => resolve()));
    const started = performance.now();
    await sender.query(`SELECT pg_notify('bench_rtt', $1)`, [String(i)]);
    await arrived;
    times.push(performance.now() - started);
  }
  await Promise.all([listener.end(), sender.end()]);
  return times.sort((a, b) => a - b);
}

// The first API process migrates the database; then the second API and the worker.
const api1 = await gatewayProcess('api');
const [api2] = await Promise.all([gatewayProcess('api'), gatewayProcess('worker')]);

async function graphql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const integrationId: string = (
  await graphql(api1, 'mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }', {
    input: { provider: 'STRIPE', name: 'bench', baseUrl: sandbox.stripe.url, credentials: { apiKey: 'sk_test_bench' }, settings: { requestsPerSecond: 1000, concurrency: 50 } },
  })
).createIntegration.integration.id;

const rtt = await notifyRoundTrip();

// 2. Subscribers, half on each API process, read by CLIENT_PROCESSES load-generator processes.
interface Subscribers {
  child: ChildProcess;
  request<T>(message: object, answer: string): Promise<T>;
}
function subscriberProcess(count: number): Promise<Subscribers> {
  const script = new URL('./subscriptions-clients.js', import.meta.url).pathname;
  const wsUrls = [api1, api2].map((u) => u.replace('http', 'ws') + '/graphql');
  const child = spawn(process.execPath, [script, String(count), integrationId, ...wsUrls], {
    env: { ...process.env, BENCH_API_KEY: adminKey },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const request = <T>(message: object, answer: string) =>
    new Promise<T>((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (!(answer in m)) return;
        child.off('message', on);
        resolve(m[answer] as T);
      };
      child.on('message', on);
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ child, request }));
    child.once('exit', (code) => reject(new Error(`subscriber process exited with ${code}`)));
  });
}
const perProcess = Math.ceil(SUBSCRIBERS / CLIENT_PROCESSES);
const subscribers = await Promise.all(
  Array.from({ length: CLIENT_PROCESSES }, (_, i) => subscriberProcess(Math.min(perProcess, SUBSCRIBERS - i * perProcess))),
);
const deliveredSoFar = async () => (await Promise.all(subscribers.map((s) => s.request<number>({ count: true }, 'count')))).reduce((a, b) => a + b, 0);
// Subscribe messages follow the acks; the first job's events show when all are registered.
// Then a few more warm-up jobs at the measured rate (JIT, pools, buffers), not counted.
const WARM_JOBS = 5;
const customers: string[] = [];
for (let i = 0; i < JOBS + WARM_JOBS; i++) {
  customers.push(
    (await graphql(api1, 'mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }', { input: { name: `Sub ${i}`, email: `sub${i}.${Date.now()}@example.com` } }))
      .createCustomer.customer.id,
  );
}
const push = (c: string) => graphql(api1, 'mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i) { job { id } } }', { c, i: integrationId });
async function waitDelivered(target: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let n = 0;
  while ((n = await deliveredSoFar()) < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (n < target) console.warn(`warm-up: only ${n} of ${target} deliveries arrived`);
}
await push(customers[0]);
await waitDelivered(3 * SUBSCRIBERS);
for (let i = 1; i < WARM_JOBS; i++) {
  void push(customers[i]);
  await new Promise((r) => setTimeout(r, 1000 / JOBS_PER_SECOND));
}
await waitDelivered(3 * SUBSCRIBERS * WARM_JOBS);
await Promise.all(subscribers.map((s) => s.request({ reset: true }, 'reset')));

// 3. Jobs at a steady rate; each makes PENDING (API), PROCESSING and COMPLETED (worker).
const started = Date.now();
const childCpu = () => [...children, ...subscribers.map((s) => s.child)].map((c) => {
  try {
    const f = readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ms (100 ticks/s)
  } catch {
    return 0;
  }
});
const childBefore = childCpu();
for (let i = 1; i <= JOBS; i++) {
  void push(customers[WARM_JOBS + i - 1]);
  const due = started + (i * 1000) / JOBS_PER_SECOND;
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
}
const expected = JOBS * 3 * SUBSCRIBERS;
const deadline = Date.now() + 120_000;
while ((await deliveredSoFar()) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

const wall = Date.now() - started;
const childAfter = childCpu();
const reports = await Promise.all(subscribers.map((s) => s.request<{ latencies: number[]; byStatus: Record<string, number[]> }>({ report: true }, 'report')));
const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
const byStatus = (status: string) => reports.flatMap((r) => r.byStatus[status] ?? []).sort((a, b) => a - b);
const delivered = latencies.length;
console.log(`bench:subscriptions: ${SUBSCRIBERS} subscribers on 2 API processes (read by ${CLIENT_PROCESSES} load-generator processes), ${JOBS} jobs at ${JOBS_PER_SECOND}/s run by a worker process`);
console.log(`NOTIFY round trip (pg alone): p50 ${fmt(quantile(rtt, 0.5), 2)} ms  p99 ${fmt(quantile(rtt, 0.99), 2)} ms`);
console.log(`event to client:              p50 ${fmt(quantile(latencies, 0.5), 1)} ms  p99 ${fmt(quantile(latencies, 0.99), 1)} ms  (target p99 < 50 ms)`);
console.log(
  `  by status:                  ${['PENDING', 'PROCESSING', 'COMPLETED'].map((st) => { const l = byStatus(st); return `${st} p50 ${fmt(quantile(l, 0.5), 1)} p99 ${fmt(quantile(l, 0.99), 1)}`; }).join(', ')}`,
);
console.log(`delivered: ${delivered} of ${expected} (${fmt((delivered / wall) * 1000, 0)} deliveries/s over the run)`);
const pct = (ms: number) => `${fmt((ms / wall) * 100, 0)}%`;
const used = childAfter.map((after, i) => after - childBefore[i]);
console.log(
  `CPU (share of one core while jobs ran): API 1 ${pct(used[0])}, API 2 ${pct(used[1])}, worker ${pct(used[2])}, ` +
    `subscriber processes ${used.slice(3).map(pct).join(' + ')}`,
);
if (delivered !== expected) process.exitCode = 1;

await Promise.all(subscribers.map((s) => new Promise((r) => {
  s.child.once('exit', r);
  s.child.send({ stop: true });
})));
for (const child of children) child.kill('SIGTERM');
await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
await sandbox.stop();
await db.close();
