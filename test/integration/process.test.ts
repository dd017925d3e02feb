import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackDataDir } from '../../src/db/embedded-postgres.js';
import { MAIN, spawnMain, stopSpawned, type GatewayProcess } from '../support/processes.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The real `npm start` path: the compiled gateway as its own OS process, on the embedded
 * PostgreSQL (DATABASE_URL unset), started, stopped, restarted and killed like an operator would.
 */
let dataDir: string;
/** The URL the running gateway printed (PORT=0: the system picks a free port each start). */
let graphqlUrl = '';

async function start(): Promise<GatewayProcess> {
  // As `npm start` runs it (vitest's NODE_ENV=test would change Apollo's signal handling).
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.ADMIN_API_KEY;
  delete env.ENCRYPTION_KEY;
  const gw = await spawnMain(env);
  graphqlUrl = /GraphQL: (http:\/\/\S+\/graphql)/.exec(gw.output())![1].replace('localhost', '127.0.0.1');
  return gw;
}

async function query(key: string, body: object) {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: the test command builds first (npm test runs npm run build)');
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-proc-'));
  await chmod(dataDir, 0o755);
});

afterAll(async () => {
  // Whatever happened above, leave no server behind: the gateway of a failed test, then the
  // postmaster a kill -9 left.
  await stopSpawned();
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      /* already gone */
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start lifecycle (embedded PostgreSQL)', () => {
  let adminKey = '';
  let customerId = '';

  it('first start prints the GraphQL URL and a generated admin key that answers a customers query', async () => {
    const gw = await start();
    const match = /Admin API key \(shown once, store it now\): (\S+)/.exec(gw.output());
    expect(match).not.toBeNull();
    adminKey = match![1];
    expect(gw.output()).toMatch(/GraphQL: http:\/\/localhost:\d+\/graphql/);
    const created = await query(adminKey, { query: 'mutation { createCustomer(input: { name: "Persisted" }) { customer { id } } }' });
    customerId = created.body.data.createCustomer.customer.id;
    const list = await query(adminKey, { query: '{ customers { totalCount edges { node { name } } } }' });
    expect(list.body.data.customers.edges.map((e: any) => e.node.name)).toEqual(['Persisted']);
    // The server runs with the settings ADR 0002 gives (new WAL segments not zero-filled).
    const opts = readFileSync(join(dataDir, 'pg', 'postmaster.opts'), 'utf8');
    expect(opts).toContain('"listen_addresses=127.0.0.1"');
    expect(opts).toContain('"wal_init_zero=off"');

    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });

  it('data survives a restart, and no second admin key is generated', async () => {
    const gw = await start();
    expect(gw.output()).not.toContain('Admin API key');
    const res = await query(adminKey, { query: `{ customer(id: "${customerId}") { name } }` });
    expect(res.body.data.customer.name).toBe('Persisted');
    // SIGKILL: the postmaster is left running as an orphan.
    gw.child.kill('SIGKILL');
    await gw.exited;
    const pid = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(() => process.kill(pid, 0)).not.toThrow();
  });

  it('a start after kill -9 stops the stale server and works', async () => {
    const gw = await start();
    const res = await query(adminKey, { query: `{ customer(id: "${customerId}") { name } }` });
    expect(res.body.data.customer.name).toBe('Persisted');
    gw.child.kill('SIGINT');
    expect(await gw.exited).toBe(0);
  });

  it('from a checkout the postgres user cannot reach (mktemp -d, /root), the gateway still starts its embedded server, with no DATA_DIR', async () => {
    // A real unreachable checkout: this one's build and node_modules, hard-linked under a 0700 folder.
    const privateDir = await mkdtemp(join(tmpdir(), 'switchboard-private-'));
    await chmod(privateDir, 0o700);
    try {
      execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(ROOT, 'dist'), privateDir]);
      copyFileSync(join(ROOT, 'package.json'), join(privateDir, 'package.json'));
      // Neither the server's binaries in the checkout nor the default ./.data are reachable: as
      // `npm ci && npm start` would run it, with nothing set.
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'warn' };
      delete env.DATABASE_URL;
      delete env.DATA_DIR;
      const child = spawn(process.execPath, [join(privateDir, 'dist/src/main.js')], { env, cwd: privateDir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const started = new Promise<string>((resolve) => {
        const check = setInterval(() => out.includes('GraphQL: http') && (clearInterval(check), resolve('started')), 20);
        void exited.then(() => clearInterval(check));
      });
      const code = await Promise.race([exited, started]);
      if (code === 'started') {
        child.kill('SIGTERM');
        await exited;
      }
      // As root the binaries were copied to /var/tmp for the postgres user; otherwise they run in place.
      expect(out).not.toMatch(/EACCES|could not start/);
      expect(code).toBe('started');
      if (process.getuid?.() === 0) {
        const copies = readdirSync('/var/tmp').filter((n) => n.startsWith(`switchboard-@embedded-postgres-${process.platform}-${process.arch}-`) && !n.endsWith('.tmp'));
        expect(copies.some((n) => existsSync(join('/var/tmp', n, 'native', 'bin', 'postgres')))).toBe(true);
        // The data went to this checkout's own folder under /var/tmp, and the log says where.
        expect(existsSync(join(fallbackDataDir(privateDir), 'pg', 'PG_VERSION'))).toBe(true);
        expect(out).toContain(fallbackDataDir(privateDir));
      }
    } finally {
      await rm(privateDir, { recursive: true, force: true });
      await rm(fallbackDataDir(privateDir), { recursive: true, force: true });
    }
  });

  it('a bad configuration value stops start-up with a message naming the variable', async () => {
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: 'eighty', DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/PORT: /);
  });
});
