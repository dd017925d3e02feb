/**
 * `npm run bench:jobs`: outbound jobs per second, end to end (mutation to COMPLETED) against a
 * zero-latency sandbox, beside raw pg-boss send/work throughput in the same run; then
 * throughput against a 200 ms sandbox at concurrency 50, beside the ideal (50 / 0.2 s). The
 * sandbox runs as its own process, as a provider would, and so do the mutation clients
 * (bench/jobs-clients.ts): the bench's own process runs the gateway.
 */
import 'reflect-metadata';
import pg from 'pg';
import { benchDatabase, benchGateway, fmt, graphqlClient, insertCustomers, JOB_ENDED, mutationClients, RAW_PG_BOSS, rawPgBoss, sandboxProcess, stripeIntegration, untilJobs } from './support.js';

// 6,000 (2,000 until session 9): at about 1,500 jobs/s a 2,000-job phase lasted 1.3 s and
// varied from 974 to 1,638 jobs/s between runs; raw pg-boss, too, is measured past its start-up.
const JOBS = Number(process.env.BENCH_JOBS ?? 6000);
const SLOW_JOBS = Number(process.env.BENCH_SLOW_JOBS ?? 1000);
const CLIENTS = 50;

const db = await benchDatabase();
const sandbox = await sandboxProcess();
// 100 attempts in flight per process: larger cohorts (one start and one completion statement for
// more jobs) than 50, and the slot gate keeps those beyond an integration's concurrency cheap.
const { gateway, adminKey } = await benchGateway(db.url, { WORKER_CONCURRENCY: '100' });
const sql = new pg.Pool({ connectionString: db.url, max: 4 });

const graphql = graphqlClient(gateway.graphqlUrl, adminKey);
const integration = (name: string, settings: Record<string, unknown>) => stripeIntegration(graphql, sandbox.url('stripe'), name, settings);
const customers = (n: number) => insertCustomers(sql, n);

const BULK = 100;
const BULK_CLIENTS = 4;

/** The mutation clients run in a child process, not in the gateway's. */
const clientsProcess = mutationClients(gateway.graphqlUrl, adminKey);
const enqueue = clientsProcess.send;

/** CLIENTS clients send a pushCustomer mutation per customer. */
const enqueueAll = (integrationId: string, ids: string[]) => enqueue(integrationId, ids, CLIENTS, 0);
/** BULK_CLIENTS clients send pushCustomers mutations of BULK customers each. */
const enqueueBulk = (integrationId: string, ids: string[]) => enqueue(integrationId, ids, BULK_CLIENTS, BULK);

/**
 * A paused integration's jobs are not fetched (ADR 0011): once enqueued they wait untouched, so
 * the timed phase starts from a quiet queue. (Before ADR 0011 the worker fetched and put off each
 * one, and the phase waited for that.) Checks that none was fetched.
 */
async function waitAllQueued(integrationId: string, n: number): Promise<void> {
  await untilJobs(sql, integrationId, n, `status = 'PENDING' AND attempts = 0`);
}
const waitAllDone = (integrationId: string, n: number) => untilJobs(sql, integrationId, n, JOB_ENDED);

// 20,000: at 13,000 jobs/s a phase of 6,000 would last half a second.
const RAW_JOBS = 20_000;
console.log(`raw pg-boss: ${RAW_JOBS} jobs (${RAW_PG_BOSS}) ...`);
// On a database of its own on the same server: its 20,000 rows in pg-boss's table slowed the
// gateway phases after it (the 200 ms phase from 0.85 to 0.80 of the ideal).
const rawDb = await db.another();
const raw = await rawPgBoss(rawDb.url, RAW_JOBS);
await rawDb.drop();

console.log(`gateway: ${JOBS} pushCustomer mutations from ${CLIENTS} clients against a zero-latency Stripe sandbox ...`);
const fast = await integration('bench-fast', { requestsPerSecond: 10_000, concurrency: 100 });
const fastIds = await customers(JOBS);
let started = performance.now();
const enqueueSeconds = await enqueueAll(fast, fastIds);
await waitAllDone(fast, JOBS);
const e2e = JOBS / ((performance.now() - started) / 1000);

console.log(`gateway: ${JOBS} jobs in pushCustomers mutations of ${BULK} from ${BULK_CLIENTS} clients against the zero-latency sandbox ...`);
const bulk = await integration('bench-bulk', { requestsPerSecond: 10_000, concurrency: 100 });
const bulkIds = await customers(JOBS);
started = performance.now();
const bulkEnqueueSeconds = await enqueueBulk(bulk, bulkIds);
await waitAllDone(bulk, JOBS);
const bulkE2e = JOBS / ((performance.now() - started) / 1000);

console.log(`gateway: ${JOBS} jobs queued while paused, then the worker alone against the zero-latency sandbox ...`);
const drain = await integration('bench-drain', { requestsPerSecond: 10_000, concurrency: 100 });
await graphql(`mutation($id: ID!) { pauseIntegration(id: $id) { integration { id } } }`, { id: drain });
await enqueueBulk(drain, await customers(JOBS));
await waitAllQueued(drain, JOBS);
started = performance.now();
await graphql(`mutation($id: ID!) { resumeIntegration(id: $id) { integration { id } } }`, { id: drain });
await waitAllDone(drain, JOBS);
const workerRate = JOBS / ((performance.now() - started) / 1000);

console.log(`gateway: ${SLOW_JOBS} jobs against a 200 ms sandbox, integration concurrency 50 ...`);
const slow = await integration('bench-slow', { requestsPerSecond: 10_000, concurrency: 50 });
await graphql(`mutation($id: ID!) { pauseIntegration(id: $id) { integration { id } } }`, { id: slow });
await enqueueBulk(slow, await customers(SLOW_JOBS));
await waitAllQueued(slow, SLOW_JOBS);
await sandbox.setFaults('stripe', { latencyMs: 200 });
started = performance.now();
await graphql(`mutation($id: ID!) { resumeIntegration(id: $id) { integration { id } } }`, { id: slow });
const resumeMs = performance.now() - started;
await waitAllDone(slow, SLOW_JOBS);
const slowRate = SLOW_JOBS / ((performance.now() - started) / 1000);
const ideal = 50 / 0.2;

const { rows: outcome } = await sql.query(`SELECT status, count(*)::int AS n FROM integration_job GROUP BY status ORDER BY status`);
console.log(`\njob outcomes: ${outcome.map((r) => `${r.status} ${r.n}`).join(', ')}`);
console.log(`raw pg-boss send+work          ${fmt(raw).padStart(8)} jobs/s`);
console.log(`gateway end to end (0 ms)      ${fmt(e2e).padStart(8)} jobs/s   (enqueue alone: ${fmt(JOBS / enqueueSeconds)} mutations/s)   ratio to raw pg-boss: ${fmt(e2e / raw, 3)}`);
console.log(`gateway end to end, bulk (0 ms) ${fmt(bulkE2e).padStart(8)} jobs/s   (pushCustomers of ${BULK} from ${BULK_CLIENTS} clients; enqueue alone: ${fmt(JOBS / bulkEnqueueSeconds)} jobs/s)   (target >= 2000 jobs/s)`);
console.log(`worker alone (0 ms, queued)     ${fmt(workerRate).padStart(8)} jobs/s`);
console.log(`gateway at 200 ms, conc. 50    ${fmt(slowRate).padStart(8)} jobs/s   ideal ${fmt(ideal)} jobs/s   ratio ${fmt(slowRate / ideal, 2)}   (target >= 0.80)`);
console.log(`   of which resumeIntegration (waking ${SLOW_JOBS} deferred jobs): ${fmt(resumeMs, 0)} ms`);

clientsProcess.close();
await sql.end();
await gateway.stop();
await sandbox.stop();
await db.close();
process.exit(0);
