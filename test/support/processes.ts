import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from './gateway.js';

export const MAIN = join(new URL('../../', import.meta.url).pathname, 'dist/src/main.js');

export interface GatewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Every gateway process a test started: none outlives the test file, even one that timed out. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Stops every gateway process this test file started and that is still running (for an
 * afterAll: a test that timed out never reached its own finally).
 */
export async function stopSpawned(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

/** The compiled gateway (`dist/src/main.js`) as its own OS process, once it printed its URL. */
export async function spawnMain(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: npm test builds first');
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (out.includes('GraphQL: http')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    exited.then((code) => {
      clearInterval(check);
      reject(new Error(`gateway process exited with ${code}: ${out}`));
    });
  });
  return {
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Another gateway process (as `npm start` runs it) on the test gateway's database and
 * encryption key: a worker, or a second API process.
 */
export function spawnGateway(t: TestGateway, env: Record<string, string>): Promise<GatewayProcess> {
  return spawnMain({
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: t.databaseUrl,
    ENCRYPTION_KEY: t.env.ENCRYPTION_KEY!,
    ADMIN_API_KEY: t.adminKey,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    OUTBOUND_ALLOW_LOOPBACK: 'true',
    ...env,
  });
}

/** Polls `probe` until it returns a truthy value (waiting on a state, not a fixed sleep). */
export async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
