import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/observability/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A connection string to a database on the server the tests may create databases on. */
    pgAdminUrl: string;
  }
}

/**
 * One PostgreSQL server for the run: DATABASE_URL's when set, else an embedded one in a fresh
 * 0755 folder under the system temp folder (so the `postgres` user can reach it wherever the
 * checkout lives). Each test file then creates a database of its own on it.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('pgAdminUrl', process.env.DATABASE_URL);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-test-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres(dir, createLogger('warn'), 'switchboard_admin');
  project.provide('pgAdminUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
