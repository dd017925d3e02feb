import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../src/domain/integration/credential-cipher.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { startTestGateway, testEnv, type TestGateway } from '../support/gateway.js';
import { rowId, STRIPE_KEY } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { newWhsec, nowSeconds, post, stripeHeaders } from '../support/webhooks.js';

const run = promisify(execFile);
const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/rotate-encryption-key.js');

let t: TestGateway;
let sandbox: Sandbox;
let dataDir: string;
const started: Gateway[] = [];

/** Another gateway process on the test's database with these keys. */
async function gatewayWith(keys: { ENCRYPTION_KEY: string; ENCRYPTION_KEY_PREVIOUS?: string }): Promise<Gateway> {
  const gateway = await startGateway(testEnv(t.databaseUrl, dataDir, { ...keys, ADMIN_API_KEY: t.adminKey }), createLogger('silent'));
  started.push(gateway);
  return gateway;
}

async function gql(gateway: Gateway, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

beforeAll(async () => {
  sandbox = await startSandbox();
  // The test's own gateway serves the API only: it keeps the old key throughout, as a process
  // not yet restarted would, and runs no worker that could meet a value it cannot open.
  t = await startTestGateway({ ROLE: 'api' });
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-rotation-'));
});
afterAll(async () => {
  for (const g of started.reverse()) await g.stop().catch(() => undefined);
  await t?.stop();
  await sandbox?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('ENCRYPTION_KEY rotation', () => {
  it('npm run encryption:rotate reseals every credential under the new key while the gateway runs; old and new both read meanwhile; afterwards the old key alone is refused', async () => {
    const oldKey = t.env.ENCRYPTION_KEY!;
    const newKey = randomBytes(32).toString('base64');
    const secret = newWhsec();
    const CREATE = `mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { integration { id webhookUrl } } }`;
    // Written under the old key.
    const oldOnes = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(t.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
        body: JSON.stringify({ query: CREATE, variables: { i: { provider: 'STRIPE', name: `old ${i}`, baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, webhookSecret: secret } } }),
      });
      oldOnes.push(((await res.json()) as any).data.createIntegration.integration);
    }

    // A process restarted for the rotation: the new key seals, the old one still opens.
    const rolling = await gatewayWith({ ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_PREVIOUS: oldKey });
    const newOne = (await gql(rolling, CREATE, { i: { provider: 'STRIPE', name: 'new', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, webhookSecret: secret } })).createIntegration.integration;
    const sealed = async () => t.sql<{ id: string; credentials_encrypted: string; webhook_secret_encrypted: string }>('SELECT id, credentials_encrypted, webhook_secret_encrypted FROM integration');
    const idOf = (value: string) => value.split('.')[1];
    const oldId = keyIdOf(Buffer.from(oldKey, 'base64'));
    const newId = keyIdOf(Buffer.from(newKey, 'base64'));
    expect((await sealed()).find((r) => r.id === rowId(newOne.id))!.credentials_encrypted.startsWith(`v2.${newId}.`)).toBe(true);
    expect((await sealed()).filter((r) => idOf(r.credentials_encrypted) === oldId)).toHaveLength(3);

    // While the command runs, the rolling process keeps serving: pushes and signed webhooks.
    const customer = (await gql(rolling, `mutation { createCustomer(input: { name: "Rotation" }) { customer { id } } }`)).createCustomer.customer.id;
    let serving = true;
    const load = (async () => {
      let n = 0;
      while (serving) {
        const integration = [...oldOnes, newOne][n++ % 4];
        const body = JSON.stringify({ id: `evt_rot_${n}_${Date.now()}`, object: 'event', type: 'customer.updated', created: nowSeconds(), data: { object: {} } });
        const answer = await post(integration.webhookUrl.replace(t.url, rolling.url), body, stripeHeaders(body, secret));
        expect(answer.status).toBe(200);
        await gql(rolling, `mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i, idempotencyKey: "rot-${n}") { job { id } } }`, { c: customer, i: integration.id });
      }
      return n;
    })();
    const { stdout } = await run(process.execPath, [CLI], {
      env: { ...process.env, DATABASE_URL: t.databaseUrl, ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_PREVIOUS: oldKey, LOG_LEVEL: 'silent', DATA_DIR: dataDir },
    });
    serving = false;
    expect(await load).toBeGreaterThan(0);
    expect(stdout).toMatch(/Resealed 3 integrations \(1 were already under the new key\)/);
    // Every value under the new key; the plaintext nowhere.
    const after = await sealed();
    expect(after.every((r) => idOf(r.credentials_encrypted) === newId && idOf(r.webhook_secret_encrypted) === newId)).toBe(true);
    expect(JSON.stringify(after)).not.toContain(STRIPE_KEY);
    // Jobs pushed during the rotation completed: their credentials opened under either key.
    await until(async () => (await t.sql(`SELECT id FROM integration_job WHERE status NOT IN ('COMPLETED')`)).length === 0, 30_000);
    expect((await t.sql(`SELECT id FROM integration_job WHERE status = 'COMPLETED'`)).length).toBeGreaterThan(0);

    // Done: a process with the new key alone starts and works; the old key alone is refused.
    const renewed = await gatewayWith({ ENCRYPTION_KEY: newKey });
    const body = JSON.stringify({ id: `evt_after_${Date.now()}`, object: 'event', type: 'customer.updated', created: nowSeconds(), data: { object: {} } });
    expect((await post(oldOnes[0].webhookUrl.replace(t.url, renewed.url), body, stripeHeaders(body, secret))).status).toBe(200);
    await expect(gatewayWith({ ENCRYPTION_KEY: oldKey })).rejects.toThrow(/ENCRYPTION_KEY differs/);
    // Run again, the command finds nothing to do.
    const again = await run(process.execPath, [CLI], { env: { ...process.env, DATABASE_URL: t.databaseUrl, ENCRYPTION_KEY: newKey, LOG_LEVEL: 'silent', DATA_DIR: dataDir } });
    expect(again.stdout).toMatch(/Resealed 0 integrations \(4 were already under the new key\)/);
  });
});
