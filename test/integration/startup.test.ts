import { migrations as allMigrations } from '../../migrations/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, testEnv } from '../support/gateway.js';

const log = createLogger('silent');
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-startup-'));
});
afterAll(async () => rm(dataDir, { recursive: true, force: true }));

async function graphql(url: string, key: string, query: string) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('start-up on a shared database', () => {
  it('processes starting together on an empty database migrate once and all come up', async () => {
    const db = await createTestDatabase();
    const shared = testEnv(db.url, dataDir);
    const gateways = await Promise.all([0, 1, 2].map(() => startGateway({ ...shared }, log)));
    try {
      const migrations = await gateways[0].db.query('SELECT name FROM migrations');
      // Each migration once, in order: the list in migrations/index.ts.
      expect(migrations.map((m: { name: string }) => m.name)).toEqual(allMigrations.map((m) => new m().name));
      for (const gw of gateways) {
        expect((await graphql(gw.graphqlUrl, shared.ADMIN_API_KEY!, '{ customers { totalCount } }')).body.data.customers.totalCount).toBe(0);
      }
      const keys = await gateways[0].db.query('SELECT count(*)::int AS n FROM api_key');
      expect(keys[0].n).toBe(1);
    } finally {
      for (const gw of gateways) await gw.stop();
      await db.drop();
    }
  });

  it('a process with another ENCRYPTION_KEY refuses to start', async () => {
    const db = await createTestDatabase();
    const first = await startGateway(testEnv(db.url, dataDir), log);
    try {
      await expect(startGateway(testEnv(db.url, dataDir, { ENCRYPTION_KEY: randomBytes(32).toString('base64') }), log)).rejects.toThrow(
        /ENCRYPTION_KEY differs/,
      );
    } finally {
      await first.stop();
      await db.drop();
    }
  });

  it('a revoked ADMIN_API_KEY is never revived at the next start', async () => {
    const db = await createTestDatabase();
    const env = testEnv(db.url, dataDir);
    const gw = await startGateway(env, log);
    const admin = env.ADMIN_API_KEY!;
    try {
      // A second admin revokes the configured key.
      const created = await graphql(gw.graphqlUrl, admin, 'mutation { createApiKey(input: { name: "ops-admin", role: ADMIN }) { key } }');
      const otherAdmin = created.body.data.createApiKey.key as string;
      const keys = await gw.db.query(`SELECT id FROM api_key WHERE name = 'ADMIN_API_KEY'`);
      const globalId = Buffer.from(`ApiKey:${keys[0].id}`).toString('base64url');
      expect((await graphql(gw.graphqlUrl, otherAdmin, `mutation { revokeApiKey(id: "${globalId}") { revokedAt } }`)).body.data.revokeApiKey.revokedAt).not.toBeNull();
      expect((await graphql(gw.graphqlUrl, admin, '{ customers { totalCount } }')).status).toBe(401);
    } finally {
      await gw.stop();
    }
    try {
      await expect(startGateway(env, log)).rejects.toThrow(/ADMIN_API_KEY names a key that was revoked/);
    } finally {
      await db.drop();
    }
  });
});

