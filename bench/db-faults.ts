/**
 * `npm run bench:db-faults`: the gateway under mixed load while its database fails (ADR 0010).
 *
 * One gateway (`ROLE=all`, as `npm start` runs it, its own OS process) on its embedded
 * PostgreSQL; a fake Stripe in a process of its own (50 ms per call); 200 graphql-ws
 * subscribers in another. For BENCH_SECONDS (60) this process sends, open-loop at fixed rates,
 * signed webhooks (40/s), createCustomer mutations (10/s) and pushCustomer mutations whose jobs
 * call the fake Stripe (5/s). During the run the database is:
 *
 * 1. stalled for 5 s: every process of the server gets SIGSTOP, then SIGCONT (a storage hiccup);
 * 2. restarted: its postmaster gets SIGINT (a fast shutdown, as `pg_ctl stop -m fast`), and the
 *    gateway starts it again;
 * 3. killed: its postmaster gets SIGKILL, and the gateway starts it again (crash recovery).
 *
 * Only the server this run started is signalled, by the PIDs under its own postmaster.pid.
 * Printed per fault, with the target beside each figure: how long requests failed, the p99 and
 * the slowest answer to requests sent during the fault, and the recovery after the server was
 * back (it accepts connections: a probe of this process connects, every 20 ms). After the load
 * stops and the gateway settles: acknowledged webhooks lost, jobs stuck, jobs whose provider
 * call was made twice, subscriptions that stopped receiving.
 */
import 'reflect-metadata';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { fmt, insertCustomers, sandboxProcess } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 200);
const WEBHOOKS_PER_SECOND = Number(process.env.BENCH_WEBHOOKS_PER_SECOND ?? 40);
const MUTATIONS_PER_SECOND = Number(process.env.BENCH_MUTATIONS_PER_SECOND ?? 10);
const JOBS_PER_SECOND = Number(process.env.BENCH_JOBS_PER_SECOND ?? 5);
/** The gateway's DB_REQUEST_TIMEOUT_MS (its default unless set here). */
const REQUEST_TIMEOUT_MS = Number(process.env.DB_REQUEST_TIMEOUT_MS ?? 5_000);
const STALL_MS = 5_000;
const PROVIDER_LATENCY_MS = 50;
/** A request that has no answer after this long is recorded as failed (and far over the target). */
const CLIENT_TIMEOUT_MS = 30_000;

type FaultKind = 'stall' | 'restart' | 'kill';
const FAULTS: Array<{ kind: FaultKind; at: number }> = [
  { kind: 'stall', at: Math.round(SECONDS * 0.17 * 1000) },
  { kind: 'restart', at: Math.round(SECONDS * 0.45 * 1000) },
  { kind: 'kill', at: Math.round(SECONDS * 0.72 * 1000) },
];

interface Sample {
  kind: 'webhook' | 'mutation' | 'job';
  start: number;
  end: number;
  ok: boolean;
  status: number;
}

const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-faults-'));
await chmod(dir, 0o755);
const logFile = join(tmpdir(), `switchboard-bench-db-faults-${Date.now()}.log`);
const adminKey = `sb_bench_${randomBytes(24).toString('base64url')}`;
const children: ChildProcess[] = [];
const pgDir = join(dir, 'pg');
/** The running postmaster's PID, from its own postmaster.pid (null while none runs). */
const postmasterPid = (): number | null => {
  try {
    return Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
};
// Whatever happens, this run's processes end with it: the gateway, then its server (by the PID in its own postmaster.pid).
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  try {
    const pid = postmasterPid();
    if (pid) process.kill(pid, 'SIGQUIT');
  } catch {
    /* gone */
  }
});

// 1. The fake provider, the gateway (embedded PostgreSQL), its database as this process sees it.
const sandbox = await sandboxProcess();
process.on('exit', () => void sandbox.stop());
await sandbox.setFaults('stripe', { latencyMs: PROVIDER_LATENCY_MS });
const log = createWriteStream(logFile);
const gatewayUrl = await new Promise<string>((resolve, reject) => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    ROLE: 'all',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    ADMIN_API_KEY: adminKey,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    DB_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    // The fake Stripe listens on loopback.
    OUTBOUND_ALLOW_LOOPBACK: 'true',
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [new URL('../src/main.js', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    log.write(d);
    out += d;
    const m = /GraphQL: (http:\/\/\S+)\/graphql/.exec(out);
    if (m) resolve(m[1].replace('localhost', '127.0.0.1'));
  });
  child.stderr!.pipe(log);
  child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}; see ${logFile}`)));
});
const gateway = children[0];
const { password } = JSON.parse(readFileSync(join(dir, 'embedded-postgres.json'), 'utf8')) as { password: string };
// The port stays the same across the gateway's restarts of its server.
const port = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[3]);
const dbUrl = () => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/switchboard`;
const sql = new pg.Pool({ connectionString: dbUrl(), max: 3 });
sql.on('error', () => undefined);

async function graphql(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal) {
  const res = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: unknown[] } };
}
const must = async (query: string, variables: Record<string, unknown> = {}) => {
  const { body } = await graphql(query, variables);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const inbox: string = (
  await must('mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }', {
    input: { provider: 'GENERIC', name: 'bench inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
  })
).createIntegration.integration.id;
const inboxRow = Buffer.from(inbox, 'base64url').toString().split(':')[1];
const stripe: string = (
  await must('mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }', {
    input: { provider: 'STRIPE', name: 'bench stripe', baseUrl: sandbox.url('stripe'), credentials: { apiKey: 'sk_test_bench' }, settings: { requestsPerSecond: 1000, concurrency: 20 } },
  })
).createIntegration.integration.id;
const customers = (await insertCustomers(sql, 300)).map((id) => Buffer.from(`Customer:${id}`).toString('base64url'));
const signer = new Webhook(SECRET);

// 2. The subscribers, registered once every one of them has seen a warm-up job complete.
const subscribers = fork(new URL('./db-faults-subscribers.js', import.meta.url).pathname, [String(SUBSCRIBERS), stripe, gatewayUrl.replace('http', 'ws') + '/graphql'], {
  env: { ...process.env, BENCH_API_KEY: adminKey },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
children.push(subscribers);
const ask = <T>(message: object, answer: string) =>
  new Promise<T>((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (!(answer in m)) return;
      subscribers.off('message', on);
      resolve(m[answer] as T);
    };
    subscribers.on('message', on);
    subscribers.send(message);
  });
await new Promise<void>((resolve) => subscribers.once('message', () => resolve()));
const push = (i: number, signal?: AbortSignal) =>
  graphql('mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i) { job { id } } }', { c: customers[i % customers.length], i: stripe }, signal);
/** Until every subscriber saw `jobId` COMPLETED, or `ms` passed; how many did. */
async function seenCompleted(jobId: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let n = 0;
  while ((n = await ask<number>({ completed: jobId }, 'completedBy')) < SUBSCRIBERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return n;
}
for (let warm = 0; ; warm++) {
  const job = (await push(warm)).body.data.pushCustomer.job.id as string;
  if ((await seenCompleted(job, 5_000)) === SUBSCRIBERS) break;
  if (warm > 10) throw new Error('the subscribers did not all register');
}

// 3. The load, open-loop: each request is sent on schedule whether or not earlier ones answered.
const samples: Sample[] = [];
const acknowledgedEvents = new Set<string>();
const acknowledgedJobs = new Set<string>();
const inFlight = new Set<Promise<void>>();
let eventNo = 0;
let jobNo = 0;

function track(kind: Sample['kind'], work: (signal: AbortSignal) => Promise<{ ok: boolean; status: number }>): void {
  const start = Date.now();
  const p = work(AbortSignal.timeout(CLIENT_TIMEOUT_MS))
    .catch(() => ({ ok: false, status: 0 }))
    .then(({ ok, status }) => void samples.push({ kind, start, end: Date.now(), ok, status }));
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

const send = {
  webhook: () =>
    track('webhook', async (signal) => {
      const id = `msg_bench_${++eventNo}`;
      const body = JSON.stringify({ type: 'invoice.paid', data: { id } });
      const ts = new Date();
      const res = await fetch(`${gatewayUrl}/webhooks/${inboxRow}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': signer.sign(id, ts, body) },
        body,
        signal,
      });
      await res.arrayBuffer();
      if (res.status === 200) acknowledgedEvents.add(id);
      return { ok: res.status === 200, status: res.status };
    }),
  mutation: () =>
    track('mutation', async (signal) => {
      const { status, body } = await graphql('mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }', { input: { name: `Load ${Date.now()}` } }, signal);
      return { ok: status === 200 && !body.errors, status };
    }),
  job: () =>
    track('job', async (signal) => {
      const { status, body } = await push(++jobNo, signal);
      const id = body.data?.pushCustomer?.job?.id as string | undefined;
      if (status === 200 && id) acknowledgedJobs.add(Buffer.from(id, 'base64url').toString().split(':')[1]);
      return { ok: status === 200 && !!id, status };
    }),
};

function every(perSecond: number, fire: () => void, until: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    let n = 0;
    const tick = () => {
      const now = Date.now();
      if (now >= until) return resolve();
      while (started + (n * 1000) / perSecond <= now) {
        fire();
        n++;
      }
      setTimeout(tick, Math.max(1, started + (n * 1000) / perSecond - Date.now()));
    };
    tick();
  });
}

/** The processes of this run's server: its postmaster (from its own postmaster.pid) and that postmaster's children. */
function serverProcesses(): number[] {
  const pid = postmasterPid();
  if (!pid) throw new Error('no PostgreSQL server is running for this run');
  const kids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...kids];
}

/** Until a new connection to the server answers SELECT 1 (polled every 20 ms); the time it did. */
async function serverBack(): Promise<number> {
  for (;;) {
    const client = new pg.Client({ connectionString: dbUrl(), connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      const at = Date.now();
      void client.end().catch(() => undefined);
      return at;
    } catch {
      void client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const faults: Array<{ kind: FaultKind; start: number; back: number }> = [];
async function fault(kind: FaultKind): Promise<void> {
  if (kind === 'stall') {
    const pids = serverProcesses();
    const start = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, STALL_MS));
    for (const pid of pids.reverse()) process.kill(pid, 'SIGCONT');
    faults.push({ kind, start, back: Date.now() });
    return;
  }
  const pid = postmasterPid();
  if (!pid) throw new Error('no PostgreSQL server is running for this run');
  const start = Date.now();
  process.kill(pid, kind === 'restart' ? 'SIGINT' : 'SIGKILL');
  while (existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 10));
  faults.push({ kind, start, back: await serverBack() });
}

const loadStart = Date.now();
const loadEnd = loadStart + SECONDS * 1000;
const faultRuns = FAULTS.map(async ({ kind, at }) => {
  await new Promise((r) => setTimeout(r, at));
  await fault(kind);
});
await Promise.all([
  every(WEBHOOKS_PER_SECOND, send.webhook, loadEnd),
  every(MUTATIONS_PER_SECOND, send.mutation, loadEnd),
  every(JOBS_PER_SECOND, send.job, loadEnd),
  ...faultRuns,
]);
while (inFlight.size > 0) await Promise.all([...inFlight]);

// 4. Settling: every acknowledged job ends, every acknowledged event is processed (or 120 s pass).
const settleStart = Date.now();
const unsettled = async () => {
  const jobs = await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE id = ANY($1) AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`, [[...acknowledgedJobs]]);
  const events = await sql.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND external_event_id = ANY($2) AND status = 'RECEIVED'`, [inboxRow, [...acknowledgedEvents]]);
  return { jobs: jobs.rows[0].n as number, events: events.rows[0].n as number };
};
let left = await unsettled();
while ((left.jobs > 0 || left.events > 0) && Date.now() - settleStart < 120_000) {
  await new Promise((r) => setTimeout(r, 500));
  left = await unsettled();
}
const settleMs = Date.now() - settleStart;
const storedEvents = new Set(
  (await sql.query(`SELECT external_event_id FROM webhook_event WHERE integration_id = $1 AND external_event_id = ANY($2)`, [inboxRow, [...acknowledgedEvents]])).rows.map((r) => r.external_event_id as string),
);
const lost = [...acknowledgedEvents].filter((id) => !storedEvents.has(id)).length;
const failedJobs = (await sql.query(`SELECT count(*)::int AS n FROM integration_job WHERE id = ANY($1) AND status = 'FAILED'`, [[...acknowledgedJobs]])).rows[0].n as number;

// Provider calls per job: Stripe's customer creation carries the job's key on every attempt.
const requests = (await (await fetch(`${sandbox.url('stripe')}/__sandbox/requests`)).json()) as Array<{ method: string; path: string; headers: Record<string, string>; status: number | null }>;
const creations = new Map<string, number>();
for (const r of requests) {
  const key = r.headers['idempotency-key'];
  if (r.method === 'POST' && r.path === '/v1/customers' && key && r.status !== null && r.status < 300) creations.set(key, (creations.get(key) ?? 0) + 1);
}
const calledTwice = [...creations.values()].filter((n) => n > 1).length;
const state = (await (await fetch(`${sandbox.url('stripe')}/__sandbox/state`)).json()) as { createdPerKey?: Record<string, number> };
const doubled = Object.values(state.createdPerKey ?? {}).filter((n) => n > 1).length;

// Subscriptions: one more job after settling; every subscriber should see it complete.
const finalJob = (await push(++jobNo)).body.data.pushCustomer.job.id as string;
const stillReceiving = await seenCompleted(finalJob, 10_000);
const report = await ask<Array<{ received: number[]; errors: Array<{ at: number; code: string }>; closed: { at: number; code: number } | null }>>({ report: true }, 'watchers');
const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text();
const metric = (name: string) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);

// 5. Per fault, with the targets.
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const ms = (n: number) => (Number.isFinite(n) ? `${fmt(n / 1000, 2)} s` : 'n/a');
const bound = REQUEST_TIMEOUT_MS + 1_000;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
const verdicts: boolean[] = [];
console.log(
  `bench:db-faults: ${SECONDS} s of load on one gateway (ROLE=all, embedded PostgreSQL, DB_REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS}): ` +
    `${WEBHOOKS_PER_SECOND} webhooks/s, ${MUTATIONS_PER_SECOND} createCustomer/s, ${JOBS_PER_SECOND} pushCustomer/s (fake Stripe, ${PROVIDER_LATENCY_MS} ms), ${SUBSCRIBERS} subscribers`,
);
console.log(`requests: ${samples.length}, of which failed ${samples.filter((s) => !s.ok).length}; gateway log: ${logFile}`);
faults.sort((a, b) => a.start - b.start);
for (const [i, f] of faults.entries()) {
  const windowEnd = faults[i + 1]?.start ?? loadEnd;
  const failed = samples.filter((s) => !s.ok && s.end >= f.start && s.start < windowEnd);
  const failedFor = failed.length ? Math.max(...failed.map((s) => s.end)) - Math.min(...failed.map((s) => s.start)) : 0;
  const during = samples.filter((s) => s.start >= f.start && s.start <= f.back).map((s) => s.end - s.start).sort((a, b) => a - b);
  const recovery = (['webhook', 'mutation', 'job'] as const).map((kind) => {
    const after = samples.filter((s) => s.kind === kind && s.start >= f.back && s.start < windowEnd).sort((a, b) => a.start - b.start);
    const lastFailure = Math.max(f.back, ...after.filter((s) => !s.ok).map((s) => s.start));
    const firstGood = after.find((s) => s.ok && s.start >= lastFailure);
    return firstGood ? firstGood.end - f.back : Infinity;
  });
  const subscriptionRecovery = Math.max(
    ...report.map((w) => {
      const first = w.received.find((at) => at >= f.back);
      return first === undefined || first >= windowEnd ? Infinity : first - f.back;
    }),
  );
  const p99 = quantile(during, 0.99);
  const slowest = during.at(-1) ?? NaN;
  const worstRecovery = Math.max(...recovery);
  verdicts.push(slowest <= bound, worstRecovery < 2_000);
  console.log(`\n${f.kind}: fault at +${ms(f.start - loadStart)}, server accepting connections again ${ms(f.back - f.start)} later`);
  console.log(`  requests failed for          ${ms(failedFor)} (${failed.length} failed: ${['webhook', 'mutation', 'job'].map((k) => `${failed.filter((s) => s.kind === k).length} ${k}`).join(', ')})`);
  console.log(`  answers to requests sent during the fault (${during.length}): p99 ${ms(p99)}, slowest ${ms(slowest)}  (target: every answer within ${ms(bound)}: ${mark(slowest <= bound)})`);
  console.log(
    `  recovery after the server was back: webhooks ${ms(recovery[0])}, mutations ${ms(recovery[1])}, jobs ${ms(recovery[2])}; ` +
      `all ${SUBSCRIBERS} subscribers receiving ${ms(subscriptionRecovery)}  (target < 2 s: ${mark(worstRecovery < 2_000)})`,
  );
}
const told = report.map((w) => w.errors.filter((e) => e.code === 'SERVICE_UNAVAILABLE').length);
const closed = report.filter((w) => w.closed !== null).length;
const zero = lost === 0 && left.jobs === 0 && left.events === 0 && calledTwice === 0 && doubled === 0 && stillReceiving === SUBSCRIBERS;
verdicts.push(zero);
console.log(`\nafter settling (${ms(settleMs)}; target: zero lost, stuck or doubled: ${mark(zero)}):`);
console.log(`  acknowledged webhooks lost          ${lost} of ${acknowledgedEvents.size} (${left.events} stored but not processed)`);
console.log(`  jobs stuck                          ${left.jobs} of ${acknowledgedJobs.size} (FAILED: ${failedJobs})`);
console.log(`  jobs whose provider call ran twice  ${calledTwice} (customers created twice at the provider: ${doubled})`);
console.log(`  subscriptions that stopped receiving ${SUBSCRIBERS - stillReceiving} of ${SUBSCRIBERS} (sockets closed: ${closed}; told of interruptions: ${Math.min(...told)} to ${Math.max(...told)} times each)`);
console.log(
  `gateway metrics: outages ${metric('switchboard_db_outages_total')}, last outage ${fmt(metric('switchboard_db_last_outage_seconds'), 2)} s, ` +
    `embedded restarts ${metric('switchboard_embedded_postgres_restarts_total{outcome="restarted"}')}, reconnects ${metric('switchboard_db_reconnects_total')}, ` +
    `connections lost ${metric('switchboard_db_connections_lost_total')}, timeouts ${metric('switchboard_db_timeouts_total')}`,
);
if (verdicts.includes(false)) process.exitCode = 1;

subscribers.send({ stop: true });
await new Promise((r) => subscribers.once('exit', r));
await sql.end();
gateway.kill('SIGTERM');
await new Promise((r) => (gateway.exitCode !== null ? r(null) : gateway.once('exit', r)));
await sandbox.stop();
log.end();
await rm(dir, { recursive: true, force: true });
