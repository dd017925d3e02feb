/**
 * `npm run soak`: the consistency soak (see bench/soak-run.ts) end to end on this machine. The
 * gateway runs as an API process (ROLE=api) and a worker process (ROLE=worker) on a fresh
 * database (DATABASE_URL's server, or an embedded PostgreSQL); the sandbox's fakes run in this
 * process, which also makes the changes. Halfway the worker is SIGKILLed and another started.
 *
 *   npm run soak -- [--changes 10000] [--rate 50] [--customers 500] [--contracts 250]
 *                   [--fault-rate 0.05] [--duplicate-rate 0.1] [--seed 19] [--no-kill] [--out soak-report]
 *
 * Prints the table (targets beside each figure) and writes soak.json, soak.txt and
 * soak-latency.png (+ .svg) under --out. Exits 1 when a target is missed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startSandbox } from '../src/sandbox/sandbox.js';
import { runSoak, SOAK_OWNERSHIP } from './soak-run.js';
import { formatReport, TARGETS, writeReport } from './soak-report.js';
import { benchDatabase } from './support.js';

const { values: args } = parseArgs({
  options: {
    changes: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '50' },
    customers: { type: 'string', default: '500' },
    contracts: { type: 'string', default: '250' },
    'fault-rate': { type: 'string', default: '0.05' },
    'duplicate-rate': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '19' },
    out: { type: 'string', default: 'soak-report' },
    'no-kill': { type: 'boolean', default: false },
  },
});

const MAIN = new URL('../src/main.js', import.meta.url).pathname;
const db = await benchDatabase();
const sandbox = await startSandbox();
const sql = new pg.Pool({ connectionString: db.url, max: 2 });
const adminKey = `sb_soak_${randomBytes(24).toString('base64url')}`;
const env = {
  ...process.env,
  NODE_ENV: 'production',
  DATABASE_URL: db.url,
  ADMIN_API_KEY: adminKey,
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  OUTBOUND_ALLOW_LOOPBACK: 'true',
  FIELD_OWNERSHIP: JSON.stringify(SOAK_OWNERSHIP),
  WEBHOOK_RETRY_DELAY_SECONDS: '1',
};

interface Proc {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One gateway process of this role, once it printed its URL. */
async function gatewayProcess(role: 'api' | 'worker'): Promise<Proc> {
  const child = spawn(process.execPath, [MAIN], { env: { ...env, ROLE: role }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve)).finally(() => running.delete(child));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d;
      const m = /GraphQL: (http:\/\/\S+)\/graphql/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', (d) => (out += d));
    void exited.then(() => reject(new Error(`gateway (${role}) exited: ${out}`)));
  });
  // Keep draining its output (a full pipe would block it).
  child.stdout!.resume();
  return { child, url, exited };
}

const api = await gatewayProcess('api');
let worker = await gatewayProcess('worker');
console.log(`gateway: api ${api.url}, worker ${worker.url}; sandbox: ${sandbox.servers.map((s) => `${s.name} ${s.url}`).join(', ')}`);

let failed = false;
try {
  const report = await runSoak(
    sandbox,
    {
      graphqlUrl: `${api.url}/graphql`,
      adminKey,
      sql: async (text, params) => (await sql.query(text, params)).rows,
      processUrls: () => [api.url, worker.url],
      workerUrl: () => worker.url,
      killWorker: async () => {
        worker.child.kill('SIGKILL');
        await worker.exited;
      },
      startWorker: async () => {
        worker = await gatewayProcess('worker');
      },
    },
    {
      changes: Number(args.changes),
      rate: Number(args.rate),
      customers: Number(args.customers),
      contracts: Number(args.contracts),
      faultRate: Number(args['fault-rate']),
      duplicateRate: Number(args['duplicate-rate']),
      settleTimeoutMs: 600_000,
      seed: Number(args.seed),
      killWorker: !args['no-kill'],
      log: (line) => console.log(line),
    },
  );
  console.log('');
  console.log(formatReport(report));
  const files = await writeReport(report, args.out!);
  console.log(`\nwritten: ${files.join(', ')}`);
  failed = report.consistency < TARGETS.consistency || report.echoCalls > TARGETS.echoCalls || report.errorRate >= TARGETS.failedShare || !(report.latency.all.p99 < TARGETS.p99Ms);
} finally {
  for (const p of [api, worker]) p.child.kill('SIGTERM');
  await Promise.all([api.exited, worker.exited]);
  await sql.end();
  await sandbox.stop();
  await db.close();
}
process.exit(failed ? 1 : 0);
