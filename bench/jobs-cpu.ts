/**
 * `npm run bench:jobs:cpu`: where an outbound job's CPU goes. One phase of bench:jobs, longer,
 * with the CPU time of each process read from /proc (Linux): the gateway (this process), every
 * PostgreSQL process of the embedded server, and the fake provider; the mutation clients run in
 * a child process and are not counted. It prints jobs/s, CPU milliseconds per job by process and
 * in all, how many of the machine's cores were busy, the gateway's event-loop utilisation, the
 * provider calls' durations as the gateway logged them, and the PostgreSQL sessions opened
 * during the run. With BENCH_STATEMENTS=1 (embedded server only) it also prints the statements
 * that took the most execution time (pg_stat_statements).
 *
 *   BENCH_MODE   bulk (default: pushCustomers of 100 from 4 clients, timed to the last job's end),
 *                drain (the jobs queued while paused; timed from resumeIntegration: the worker
 *                alone), single (pushCustomer from 50 clients), or floor (no gateway: pg-boss
 *                alone, then Stripe connector calls to the fake Stripe; the CPU a job costs before
 *                any work of the gateway's own, and the most jobs/s that leaves on this machine)
 *   BENCH_JOBS   jobs (default 4000)
 *   BENCH_PROFILE   a file to write the gateway's CPU profile of the timed run to (.cpuprofile)
 *   BENCH_STALE_QUEUE_STATS=1   first 20,000 finished entries of another queue in pg-boss's
 *                table and an ANALYZE with none of the outbound queue's waiting (as a quiet
 *                production table's statistics)
 *   WORKER_CONCURRENCY, BENCH_INTEGRATION_CONCURRENCY   (default 100 and 100), QUEUE_SLOW_FETCH_MS
 */
import { createOutboundHttp, DEFAULT_OUTBOUND_POLICY } from '../src/http/outbound-policy.js';
import 'reflect-metadata';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { benchDatabase, benchGateway, fmt, graphqlClient, insertCustomers, JOB_ENDED, mutationClients, RAW_PG_BOSS, rawPgBoss, sandboxProcess, stripeIntegration, untilJobs } from './support.js';
import type { CallContext } from '../src/providers/connector.js';
import { stripeConnector } from '../src/providers/stripe/connector.js';

const MODE = process.env.BENCH_MODE ?? 'bulk';
if (!['bulk', 'drain', 'single', 'floor'].includes(MODE)) throw new Error(`BENCH_MODE must be bulk, drain, single or floor, not ${MODE}`);
const JOBS = Number(process.env.BENCH_JOBS ?? 4000);
const STATEMENTS = process.env.BENCH_STATEMENTS === '1';
/** Jobs of the floor's pg-boss phase (as bench:jobs: at 13,000 jobs/s, 4,000 would last a third of a second). */
const RAW_JOBS = 20_000;

/** CPU milliseconds (user + system) a process has used, from /proc/<pid>/stat; 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return 0;
  }
}

/** Pids whose command name or line matches. */
function pids(match: (comm: string, cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (match(comm, cmdline)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const db = await benchDatabase({ statStatements: STATEMENTS && !process.env.DATABASE_URL });
const sandbox = await sandboxProcess();
const postgres = () => pids((comm) => comm.startsWith('postgres') || comm.startsWith('postmaster'));
const sandboxPids = pids((_, cmdline) => cmdline.includes('sandbox/main.js'));
const sum = (list: number[]) => list.reduce((total, pid) => total + cpuMs(pid), 0);
/** CPU time of every PostgreSQL process by pid; a backend started during the run counts from zero. */
const postgresCpu = () => new Map(postgres().map((pid) => [pid, cpuMs(pid)]));
/** PostgreSQL's CPU milliseconds since `before` (postgresCpu); a backend that exited meanwhile is missed. */
const postgresDelta = (before: Map<number, number>) => [...postgresCpu()].reduce((total, [pid, now]) => total + now - (before.get(pid) ?? 0), 0);
/** This process's CPU milliseconds since `before` (process.cpuUsage). */
const msSince = (before: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
};

if (MODE === 'floor') {
  await floor();
  await sandbox.stop();
  await db.close();
  process.exit(0);
}

/**
 * What a job costs before the gateway does any work of its own: pg-boss alone (insert, fetch and
 * complete, batched, no-op handler: this process and PostgreSQL) and one call of the Stripe
 * connector to the fake Stripe (this process and the sandbox), each per job, after a warm-up.
 * No IntegrationJob, IntegrationLog or ExternalRef row, no mutation, no slot, lease or event.
 */
async function floor(): Promise<void> {
  const cores = availableParallelism();
  await rawPgBoss(db.url, 2000);
  let self = process.cpuUsage();
  const pgCpu = postgresCpu();
  let boss = { self: 0, postgres: 0 };
  const rate = await rawPgBoss(db.url, RAW_JOBS, () => {
    boss = { self: msSince(self) / RAW_JOBS, postgres: postgresDelta(pgCpu) / RAW_JOBS };
  });

  const ctx: CallContext = {
    baseUrl: sandbox.url('stripe'),
    credentials: { apiKey: 'sk_test_bench' },
    timeoutMs: 10_000,
    refs: async () => null,
    outbound: createOutboundHttp({ ...DEFAULT_OUTBOUND_POLICY, allowLoopback: true }),
  };
  const upsert = stripeConnector.operations['customer.upsert']!;
  const calls = async (n: number) => {
    let next = 0;
    const client = async () => {
      for (let i = next++; i < n; i = next++) {
        const customerId = randomUUID();
        await upsert({ customerId, name: `Floor ${i}`, email: `floor-${customerId}@example.com` }, `switchboard-${customerId}`, ctx);
      }
    };
    await Promise.all(Array.from({ length: 100 }, client));
  };
  await calls(500);
  self = process.cpuUsage();
  const sandboxBefore = sum(sandboxPids);
  const callsStarted = performance.now();
  await calls(JOBS);
  const callRate = JOBS / ((performance.now() - callsStarted) / 1000);
  const call = { self: msSince(self) / JOBS, sandbox: (sum(sandboxPids) - sandboxBefore) / JOBS };

  const total = boss.self + boss.postgres + call.self + call.sandbox;
  console.log(`floor: ${cores} cores`);
  console.log(`pg-boss alone, ${RAW_JOBS} jobs (${RAW_PG_BOSS}): ${fmt(rate)} jobs/s; CPU ms per job: this process ${fmt(boss.self, 3)}, PostgreSQL ${fmt(boss.postgres, 3)}`);
  console.log(`${JOBS} Stripe connector calls to the fake Stripe, 100 at a time: ${fmt(callRate)} calls/s; CPU ms per call: this process ${fmt(call.self, 3)}, fake Stripe ${fmt(call.sandbox, 3)}`);
  console.log(`together ${fmt(total, 3)} CPU ms per job: at most ${fmt((cores * 1000) / total, 0)} jobs/s on ${cores} cores before any work of the gateway's own`);
  console.log(`2,000 jobs/s leaves ${fmt((cores * 1000) / 2000 - total, 3)} CPU ms per job for the mutation, the job's rows, its log row, its provider link, its slot and its events`);
}

if (process.env.BENCH_STALE_QUEUE_STATS === '1') {
  // The statistics of a quiet production queue table: many finished entries (of another queue
  // here), none waiting, analysed. pg-boss's fetch planned on them walks every waiting entry for
  // each one it picks, until the worker's slow-fetch ANALYZE (QUEUE_SLOW_FETCH_MS).
  await rawPgBoss(db.url, RAW_JOBS);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query('VACUUM ANALYZE pgboss.job_common');
  await client.end();
}
const { gateway, adminKey } = await benchGateway(db.url, {
  WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY ?? '100',
  ...(process.env.QUEUE_SLOW_FETCH_MS ? { QUEUE_SLOW_FETCH_MS: process.env.QUEUE_SLOW_FETCH_MS } : {}),
});
const sql = new pg.Pool({ connectionString: db.url, max: 2 });

const graphql = graphqlClient(gateway.graphqlUrl, adminKey);
const integrationId = await stripeIntegration(graphql, sandbox.url('stripe'), 'bench-cpu', {
  requestsPerSecond: 10_000,
  concurrency: Number(process.env.BENCH_INTEGRATION_CONCURRENCY ?? 100),
});
const rowId = Buffer.from(integrationId, 'base64url').toString().split(':')[1];
const customerIds = await insertCustomers(sql, JOBS);

const clients = mutationClients(gateway.graphqlUrl, adminKey);
const enqueue = (bulk: boolean) => clients.send(integrationId, customerIds, bulk ? 4 : 50, bulk ? 100 : 0);
const until = (where: string) => untilJobs(sql, integrationId, JOBS, where);

if (MODE === 'drain') {
  await graphql(`mutation($id: ID!) { pauseIntegration(id: $id) { integration { id } } }`, { id: integrationId });
  await enqueue(true);
  // A paused integration's jobs are not fetched (ADR 0011): queued, they wait untouched.
  await until(`status = 'PENDING' AND attempts = 0`);
}
if (STATEMENTS) {
  await sql.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await sql.query('SELECT pg_stat_statements_reset()');
}

const sessions = async () => (await sql.query(`SELECT sessions::int AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0].n as number;

/** With BENCH_PROFILE=<file>: the gateway's CPU profile over the timed run, for Chrome DevTools or speedscope. */
const profiler = process.env.BENCH_PROFILE ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
const before = { gateway: process.cpuUsage(), postgres: postgresCpu(), sandbox: sum(sandboxPids), sessions: await sessions() };
const loop = performance.eventLoopUtilization();
const started = performance.now();
if (MODE === 'drain') await graphql(`mutation($id: ID!) { resumeIntegration(id: $id) { integration { id } } }`, { id: integrationId });
else await enqueue(MODE === 'bulk');
await until(JOB_ENDED);
const seconds = (performance.now() - started) / 1000;
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
  profiler.disconnect();
}
const ms = {
  gateway: msSince(before.gateway),
  // A backend that exited during the run is missed (the pools keep theirs open).
  postgres: postgresDelta(before.postgres),
  sandbox: sum(sandboxPids) - before.sandbox,
};
const total = ms.gateway + ms.postgres + ms.sandbox;
const utilisation = performance.eventLoopUtilization(loop).utilization;
const opened = (await sessions()) - before.sessions;

console.log(`${MODE}: ${JOBS} jobs, WORKER_CONCURRENCY ${process.env.WORKER_CONCURRENCY ?? 100}: ${fmt(JOBS / seconds)} jobs/s`);
console.log(
  `CPU ms per job: gateway ${fmt(ms.gateway / JOBS, 3)}, PostgreSQL ${fmt(ms.postgres / JOBS, 3)}, fake Stripe ${fmt(ms.sandbox / JOBS, 3)}, in all ${fmt(total / JOBS, 3)}; ` +
    `${fmt(total / 1000 / seconds, 2)} cores busy`,
);
console.log(`gateway event loop busy ${fmt(utilisation * 100)}% of the time; PostgreSQL sessions opened during the run: ${opened}`);
const { rows: calls } = await sql.query(
  `SELECT round(avg(duration_ms)::numeric, 1) AS avg, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
          percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) AS p90
   FROM integration_log WHERE integration_id = $1`,
  [rowId],
);
console.log(`provider call as the gateway timed it (ms): avg ${calls[0].avg}, p50 ${calls[0].p50}, p90 ${calls[0].p90}`);
if (STATEMENTS) {
  const { rows } = await sql.query(
    `SELECT calls, round(total_exec_time::numeric, 1) AS ms, round(total_plan_time::numeric, 1) AS plan, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15`,
  );
  console.log('\nstatements by execution time (calls, ms, rows, text):');
  for (const r of rows) console.log(`${String(r.calls).padStart(7)} ${String(r.ms).padStart(9)} ${String(r.plan).padStart(8)} ${String(r.rows).padStart(7)}  ${r.query}`);
}

clients.close();
await sql.end();
await gateway.stop();
await sandbox.stop();
await db.close();
process.exit(0);
