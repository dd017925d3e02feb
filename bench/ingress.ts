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
const { gateway, adminKey } = await benchGateway(db.url, { ROLE: 'api', DB_POOL_SIZE: '20' });
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

console.log(`bench:ingress: ${CLIENTS} clients, ${SECONDS} s each, PostgreSQL ${(await sql.query('SHOW server_version')).rows[0].server_version}`);
// Warm-up: JIT, pools, the integration cache.
await load('http', viaGateway, SECRET).catch(() => undefined);
await sql.query('TRUNCATE webhook_event');

const plain = await load('pg', db.url, direct);
const ingress = await load('http', viaGateway, SECRET);

const stored = (await sql.query(`SELECT count(*)::int AS n, count(DISTINCT external_event_id)::int AS d FROM webhook_event WHERE integration_id = $1`, [gatewayIntegration])).rows[0];
const queued = (await sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'inbound'`)).rows[0].n;
const plainRate = plain.ok / plain.seconds;
const ingressRate = ingress.ok / ingress.seconds;

console.log(`plain INSERT via pg:   ${fmt(plainRate, 0)} rows/s    p50 ${fmt(plain.latencies.p50, 2)} ms  p99 ${fmt(plain.latencies.p99, 2)} ms`);
console.log(`webhook ingress:       ${fmt(ingressRate, 0)} events/s  p50 ${fmt(ingress.latencies.p50, 2)} ms  p99 ${fmt(ingress.latencies.p99, 2)} ms  (${ingress.failed} not 2xx)`);
console.log(`ratio ingress / plain: ${fmt(ingressRate / plainRate, 2)}   (target >= 0.6, p99 < 20 ms)`);
console.log(`stored: ${stored.n} rows for ${ingress.ok} accepted events (${stored.d} distinct ids), ${queued} processing jobs queued`);
if (stored.n !== ingress.ok || stored.d !== ingress.ok) {
  console.error('FAILED: the accepted events and the stored rows differ');
  process.exitCode = 1;
}

await sql.end();
await gateway.stop();
await db.close();
