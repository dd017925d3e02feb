import { fork, spawn } from 'node:child_process';
import type pg from 'pg';
import { PgBoss } from 'pg-boss';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { createScratchDatabase } from '../src/db/scratch-database.js';
import { parseEnv } from '../src/config/env.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../src/observability/logger.js';

const require = createRequire(import.meta.url);

/**
 * A fresh database for a benchmark: on DATABASE_URL's server, or on an embedded one (with
 * `statStatements`, one that loads pg_stat_statements, tracking nested statements too).
 */
export async function benchDatabase(
  options: { statStatements?: boolean } = {},
): Promise<{ url: string; another: () => Promise<{ url: string; drop: () => Promise<void> }>; close: () => Promise<void> }> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer = async () => {};
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-'));
    await chmod(dir, 0o755);
    const flags = options.statStatements ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all', '-c', 'pg_stat_statements.track_planning=on'] : [];
    const server = await startEmbeddedPostgres(dir, createLogger('warn'), 'bench_admin', flags);
    adminUrl = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const database = await createScratchDatabase(adminUrl, 'bench');
  const admin = adminUrl;
  return {
    url: database.url,
    /** One more fresh database on the same server (for a phase whose rows must not weigh on the others). */
    another: () => createScratchDatabase(admin, 'bench'),
    close: async () => {
      await database.drop();
      await stopServer();
    },
  };
}

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

/**
 * Drives `url` with autocannon in a child process, so the load generator does not share the
 * event loop of the servers being measured.
 */
export async function runLoad(opts: { url: string; body: string; headers: Record<string, string>; connections: number; seconds: number }): Promise<LoadResult> {
  const bin = require.resolve('autocannon/autocannon.js');
  const args = [bin, '-c', String(opts.connections), '-d', String(opts.seconds), '-m', 'POST', '-b', opts.body, '--json'];
  for (const [k, v] of Object.entries(opts.headers)) args.push('-H', `${k}=${v}`);
  args.push(opts.url);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`autocannon exited ${code}`))));
  });
  const r = JSON.parse(out);
  return {
    requestsPerSecond: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
  };
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The real gateway in this process on the bench database, with a fresh admin key. */
export async function benchGateway(databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<{ gateway: Gateway; adminKey: string }> {
  const adminKey = `sb_bench_${randomBytes(24).toString('base64url')}`;
  const env = parseEnv({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_API_KEY: adminKey,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    // The sandbox's fake providers listen on loopback.
    OUTBOUND_ALLOW_LOOPBACK: 'true',
    ...extraEnv,
  });
  return { gateway: await startGateway(env, createLogger('warn')), adminKey };
}

/**
 * `npm run sandbox` as its own process (each fake on a free port), so a benchmark's fake
 * provider keeps its own event loop, as a real provider would: in the gateway's process its
 * latency timers fire late whenever the gateway is busy, and the gateway pays for its HTTP
 * server. Faults are set over the fakes' control endpoint (POST /__sandbox/faults).
 */
export async function sandboxProcess(): Promise<{ url: (name: 'stripe' | 'hubspot' | 'sendgrid') => string; setFaults: (name: 'stripe' | 'hubspot' | 'sendgrid', faults: Record<string, unknown>) => Promise<void>; stop: () => Promise<void> }> {
  const main = new URL('../src/sandbox/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [main], { env: { ...process.env, SANDBOX_PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  // A benchmark that fails does not leave its sandbox running.
  process.once('exit', () => child.kill('SIGTERM'));
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const found = Object.fromEntries([...out.matchAll(/^(\w+)\s+(http:\/\/\S+)/gm)].map((m) => [m[1].toLowerCase(), m[2]]));
      if (found.stripe && found.hubspot && found.sendgrid) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`sandbox process exited with ${code}`)));
  });
  child.stdout.resume();
  return {
    url: (name) => urls[name],
    async setFaults(name, faults) {
      const res = await fetch(`${urls[name]}/__sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
      if (!res.ok) throw new Error(`sandbox faults: HTTP ${res.status}`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** GraphQL over HTTP with `key`; any GraphQL error throws. */
export function graphqlClient(url: string, key: string) {
  return async (query: string, variables: Record<string, unknown> = {}): Promise<any> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
}

/** A Stripe integration on the sandbox's fake Stripe, with these settings; its global id. */
export async function stripeIntegration(graphql: ReturnType<typeof graphqlClient>, baseUrl: string, name: string, settings: Record<string, unknown>): Promise<string> {
  const data = await graphql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }`, {
    input: { provider: 'STRIPE', name, baseUrl, credentials: { apiKey: 'sk_test_bench' }, settings },
  });
  return data.createIntegration.integration.id;
}

/** `n` customers inserted with SQL (not timed, not through the API); their row ids. */
export async function insertCustomers(sql: pg.Pool, n: number): Promise<string[]> {
  const { rows } = await sql.query(
    `INSERT INTO customer (id, name, email) SELECT gen_random_uuid(), 'Bench ' || i, 'bench' || i || '-' || $2 || '@example.com' FROM generate_series(1, $1::int) i RETURNING id`,
    [n, randomBytes(4).toString('hex')],
  );
  return rows.map((r) => r.id as string);
}

/**
 * The job benchmarks' mutation clients, in a child process (bench/jobs-clients.ts), so their CPU
 * is not the gateway's. `send` runs `clients` concurrent clients over the customers: a
 * pushCustomer each (bulk 0) or pushCustomers of `bulk`; it resolves with the seconds taken.
 */
export function mutationClients(graphqlUrl: string, key: string) {
  const child = fork(new URL('./jobs-clients.js', import.meta.url).pathname, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    send: (integrationId: string, customerIds: string[], clients: number, bulk: number) =>
      new Promise<number>((resolve, reject) => {
        child.once('message', (m: { done?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m.done!)));
        child.send({ url: graphqlUrl, key, integrationId, customerIds, clients, bulk });
      }),
    close: () => child.disconnect(),
  };
}

/** The jobs that have ended, as a condition on integration_job. */
export const JOB_ENDED = `status IN ('COMPLETED', 'FAILED', 'CANCELLED')`;

/** Until `n` jobs of the integration (global id) meet `where` (polled every 20 ms). */
export async function untilJobs(sql: pg.Pool, integrationId: string, n: number, where: string): Promise<void> {
  const rowId = Buffer.from(integrationId, 'base64url').toString().split(':')[1];
  for (;;) {
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE integration_id = $1 AND ${where}`, [rowId]);
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How rawPgBoss sends and works its jobs. */
export const RAW_PG_BOSS = 'insert in batches of 1,000; work batchSize 500 x 2, burst; no-op handler';

/**
 * pg-boss alone on the database at `url` (give it a database of its own: its rows share pg-boss's
 * table with the outbound queue's and would weigh on what is measured there), at its best here: `n` jobs inserted in batches of
 * 1,000 and worked with batches of 500 and bursts by a no-op handler (queue `bench-raw`), the
 * sending and the working overlapped; jobs per second. (Until session 10: batches of 500 and 50
 * x 4, which gave 5,000 to 7,000 jobs/s where these give 12,000 to 14,000; worked alone, without
 * sending, pg-boss took 22,000 jobs/s here, about the 19,000 issue 3 quotes.)
 */
export async function rawPgBoss(url: string, n: number, beforeStop: () => void = () => {}): Promise<number> {
  const boss = new PgBoss({ connectionString: url, schema: 'pgboss', max: 10 });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.createQueue('bench-raw');
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    void boss.work('bench-raw', { batchSize: 500, localConcurrency: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async (jobs: unknown[]) => {
      done += jobs.length;
      if (done >= n) resolve();
    });
  });
  const started = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await boss.insert('bench-raw', Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ data: { k: i + k } })));
  }
  await finished;
  const rate = n / ((performance.now() - started) / 1000);
  // (Before its connections close: the floor reads their PostgreSQL processes' CPU here.)
  beforeStop();
  await boss.stop({ graceful: false, close: true });
  return rate;
}
