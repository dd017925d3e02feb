import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateCustomerDocument, CreateInvoiceDocument, CustomersDocument, DeepQueryDocument, ExpensiveQueryDocument, InvoicePageDocument } from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ CORS_ORIGINS: 'https://app.example.com' });
});
afterAll(async () => t?.stop());

describe('operations endpoints', () => {
  it('/healthz and /readyz answer 200 while the database and queue answer', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('/metrics exposes process metrics and requests by operation name', async () => {
    await t.run(CustomersDocument, {});
    const text = await scrapeMetrics(t.url, t.adminKey);
    expect(text).toContain('switchboard_process_cpu_user_seconds_total');
    expect(text).toMatch(/switchboard_http_requests_total\{route="\/graphql",operation="Customers",status="200"\} \d+/);
    expect(text).toMatch(/switchboard_http_request_duration_seconds_bucket\{le="[^"]+",route="\/graphql",operation="Customers"\}/);
  });
});

describe('correlation ids', () => {
  it('echoes a caller-supplied X-Correlation-Id and generates one otherwise', async () => {
    const given = await t.request(CustomersDocument, {}, { headers: { 'x-correlation-id': 'req-abc-123' } });
    expect(given.headers.get('x-correlation-id')).toBe('req-abc-123');
    const made = await t.request(CustomersDocument, {});
    expect(made.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    const junk = await t.request(CustomersDocument, {}, { headers: { 'x-correlation-id': 'bad id with spaces' } });
    expect(junk.headers.get('x-correlation-id')).not.toBe('bad id with spaces');
  });
});

describe('browser apps', () => {
  it('answers a preflight from an allowed origin and not from others', async () => {
    const preflight = (origin: string) =>
      fetch(`${t.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const denied = await preflight('https://evil.example.net');
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a body over 1 MiB with 413 and a reason', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: '{ customers { totalCount } }', variables: { pad: 'x'.repeat(1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('refuses a GET query without a preflight header (CSRF prevention)', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ customers { totalCount } }')}`, {
      headers: { authorization: `Bearer ${t.adminKey}` },
    });
    expect(res.status).toBe(400);
    const ok = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ customers { totalCount } }')}`, {
      headers: { authorization: `Bearer ${t.adminKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(ok.status).toBe(200);
  });
});

describe('query limits', () => {
  it('refuses an over-deep query before running it', async () => {
    const res = await t.request(DeepQueryDocument, {});
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors![0].message).toMatch(/maximum operation depth/);
  });

  it('refuses a query whose cost (page sizes times nested work) is over the limit', async () => {
    const res = await t.request(ExpensiveQueryDocument, {});
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors![0].extensions).toMatchObject({ maxCost: 50000 });
    expect(res.body.errors![0].message).toMatch(/cost/);
  });
});

describe('unexpected errors', () => {
  it('reach the client masked, with the correlation id, and without SQL or stack', async () => {
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Masked' } });
    await t.run(CreateInvoiceDocument, {
      input: { customerId: createCustomer.customer.id, currency: 'USD', lineItems: [{ description: 'x', quantity: 1, unitAmount: '1' }] },
    });
    await t.sql('ALTER TABLE invoice_line_item RENAME COLUMN description TO description_broken');
    try {
      const res = await t.request(InvoicePageDocument, { first: 1 }, { headers: { 'x-correlation-id': 'masked-1' } });
      const error = res.body.errors![0];
      expect(error.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', correlationId: 'masked-1' });
      const text = JSON.stringify(res.body.errors);
      expect(text).not.toMatch(/SELECT|description_broken|does not exist|stacktrace|\.js:\d/i);
    } finally {
      await t.sql('ALTER TABLE invoice_line_item RENAME COLUMN description_broken TO description');
    }
  });
});

describe('readiness', () => {
  it('/readyz is 503 once the database is gone, while /healthz stays 200', async () => {
    const other = await startTestGateway();
    try {
      const dbName = new URL(other.databaseUrl).pathname.slice(1);
      await t.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);
      await t.sql(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
      await t.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);
      const ready = await fetch(`${other.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
      await t.sql(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    } finally {
      await other.stop();
    }
  });
});

