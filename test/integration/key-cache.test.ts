import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { CreateApiKeyDocument, CustomersDocument, RevokeApiKeyDocument } from '../generated/graphql.js';
import { startTestGateway, testEnv, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { until } from '../support/processes.js';

/** Two API processes' worth of gateway on one database: A (the test gateway) and B. */
let a: TestGateway;
let b: Gateway;
let dataDir: string;

beforeAll(async () => {
  // API processes only: the statement counter is one per test process (A's and B's together), and
  // a worker's fetch loop (prepared statements, counted) would land in the counts below.
  a = await startTestGateway({ ROLE: 'api' });
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-keys-'));
  b = await startGateway({ ...testEnv(a.databaseUrl, dataDir, { ROLE: 'api' }), ENCRYPTION_KEY: a.env.ENCRYPTION_KEY }, createLogger('silent'));
  await until(() => b.services.apiKeys.cache.enabled);
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function onB(key: string): Promise<number> {
  const res = await fetch(b.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ customers { totalCount } }' }),
  });
  await res.text();
  return res.status;
}

async function statements(): Promise<number> {
  const text = await scrapeMetrics(b.url, a.adminKey);
  return Number(text.split('\n').find((l) => l.startsWith('switchboard_db_statements_total '))!.split(' ')[1]);
}

describe('API key cache', () => {
  it('a key used again skips the key lookup, and a revocation in another process reaches this one', async () => {
    const { createApiKey } = await a.run(CreateApiKeyDocument, { input: { name: 'cached', role: 'APP' } });
    const key = createApiKey.key;
    let before = await statements();
    expect(await onB(key)).toBe(200);
    const first = (await statements()) - before;
    before = await statements();
    expect(await onB(key)).toBe(200);
    const second = (await statements()) - before;
    expect(second).toBe(first - 1);

    await a.run(RevokeApiKeyDocument, { id: createApiKey.apiKey.id });
    // The revoking process refuses the key on its very next request; B as soon as the notification lands.
    expect((await a.request(CustomersDocument, {}, { key })).status).toBe(401);
    await until(async () => (await onB(key)) === 401, 2_000);
  });

  it('while the listener is down nothing is cached: a revocation it cannot hear still takes effect', async () => {
    const { createApiKey } = await a.run(CreateApiKeyDocument, { input: { name: 'deaf', role: 'APP' } });
    const key = createApiKey.key;
    expect(await onB(key)).toBe(200);
    await a.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'switchboard-listen-switchboard_api_key_revoked'`);
    await until(() => !b.services.apiKeys.cache.enabled, 5_000);
    // Revoked behind the gateways' backs: no notification at all.
    await a.sql(`UPDATE api_key SET revoked_at = now() WHERE prefix = $1`, [createApiKey.apiKey.prefix]);
    expect(await onB(key)).toBe(401);
    // The listener comes back by itself, and the cache with it.
    await until(() => b.services.apiKeys.cache.enabled, 10_000);
  });
});
