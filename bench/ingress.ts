/**
 * `npm run bench:ingress`: signed Stripe events posted to the webhook ingress by 50 concurrent
 * clients for 10 s (accepted events/s, p50/p99), beside 50 clients INSERTing the same rows
 * through pg in the same run, and the ratio. Then checks that every accepted event is stored
 * exactly once. The gateway runs with ROLE=api (receiving only; workers process elsewhere).
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { benchDatabase, benchGateway, fmt } from './support.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SECRET = 'whsec_bench_ingress_secret_0123456789';

interface LoadOut {
  ok: number;
  failed: number;
  seconds: number;
  latencies: { p50: number; p99: number };
}

function load(mode: 'http' | 'pg', target: string, arg: string): Promise<LoadOut> {
  const script = new URL('./ingress-load.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, mode, target, arg, String(CLIENTS), String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadOut) : reject(new Error(`load generator exited ${code}`))));
  });
}

const db = await benchDatabase();
const { gateway, adminKey } = await benchGateway(db.url, { ROLE: 'api', DB_POOL_SIZE: '20', WEBHOOK_COMMIT_CONCURRENCY: process.env.WEBHOOK_COMMIT_CONCURRENCY ?? '1' });
const sql = new pg.Pool({ connectionString: db.url, max: 2 });

async function integration(name: string): Promise<string> {
  const res = await fetch(gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({
      query: 'mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id webhookUrl } } }',
      variables: { input: { provider: 'STRIPE', name, baseUrl: 'https://api.stripe.com', credentials: { apiKey: 'sk_test_bench' }, webhookSecret: SECRET } },
    }),
  });
  const body = (await res.json()) as { data: { createIntegration: { integration: { id: string; webhookUrl: string } } } };
  return body.data.createIntegration.integration.webhookUrl;
}

const viaGateway = await integration('bench ingress');
const gatewayIntegration = viaGateway.split('/').pop()!;
const direct = (await integration('bench plain insert')).split('/').pop()!;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
console.log(`bench:ingress: ${CLIENTS} clients, ${SECONDS} s per side, ${ROUNDS} alternating rounds, PostgreSQL ${(await sql.query('SHOW server_version')).rows[0].server_version}`);
// Warm-up: JIT, pools, the integration cache.
await load('http', viaGateway, SECRET).catch(() => undefined);
await sql.query('TRUNCATE webhook_event');
const queuedBefore = (await sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'inbound'`)).rows[0].n;

// Alternating rounds: this machine's disk and CPU vary by ±20% over a minute; medians of
// rounds taken side by side compare like with like.
const plainRuns: LoadOut[] = [];
const ingressRuns: LoadOut[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const plain = await load('pg', db.url, direct);
  const ingress = await load('http', viaGateway, SECRET);
  plainRuns.push(plain);
  ingressRuns.push(ingress);
  console.log(
    `round ${round}: plain INSERT ${fmt(plain.ok / plain.seconds, 0)} rows/s (p99 ${fmt(plain.latencies.p99, 1)} ms), ` +
      `ingress ${fmt(ingress.ok / ingress.seconds, 0)} events/s (p50 ${fmt(ingress.latencies.p50, 1)} ms, p99 ${fmt(ingress.latencies.p99, 1)} ms), ` +
      `ratio ${fmt(ingress.ok / ingress.seconds / (plain.ok / plain.seconds), 2)}`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const plainRate = median(plainRuns.map((r) => r.ok / r.seconds));
const ingressRate = median(ingressRuns.map((r) => r.ok / r.seconds));
const accepted = ingressRuns.reduce((n, r) => n + r.ok, 0);
const notOk = ingressRuns.reduce((n, r) => n + r.failed, 0);

console.log('medians:');
console.log(`plain INSERT via pg:   ${fmt(plainRate, 0)} rows/s    p50 ${fmt(median(plainRuns.map((r) => r.latencies.p50)), 2)} ms  p99 ${fmt(median(plainRuns.map((r) => r.latencies.p99)), 2)} ms`);
console.log(
  `webhook ingress:       ${fmt(ingressRate, 0)} events/s  p50 ${fmt(median(ingressRuns.map((r) => r.latencies.p50)), 2)} ms  p99 ${fmt(median(ingressRuns.map((r) => r.latencies.p99)), 2)} ms  (${notOk} not 2xx)`,
);
console.log(`ratio ingress / plain: ${fmt(ingressRate / plainRate, 2)}   (target >= 0.6, p99 < 20 ms)`);

const stored = (await sql.query(`SELECT count(*)::int AS n, count(DISTINCT external_event_id)::int AS d FROM webhook_event WHERE integration_id = $1`, [gatewayIntegration])).rows[0];
const queued = (await sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'inbound'`)).rows[0].n - queuedBefore;
console.log(`stored: ${stored.n} rows for ${accepted} accepted events (${stored.d} distinct ids), in ${queued} processing jobs (one per commit)`);
if (stored.n !== accepted || stored.d !== accepted) {
  console.error('FAILED: the accepted events and the stored rows differ');
  process.exitCode = 1;
}

await sql.end();
await gateway.stop();
await db.close();
