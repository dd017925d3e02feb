import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepRetention } from '../../src/jobs/retention.js';
import { CreateIntegrationDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';

let t: TestGateway;
let integration = '';

beforeAll(async () => {
  t = await startTestGateway();
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'GENERIC', name: 'retained', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: 'whsec_cmV0ZW50aW9uLXRlc3Qtc2VjcmV0' },
  });
  integration = rowId(createIntegration.integration.id);
});
afterAll(async () => {
  await t?.stop();
});

describe('retention sweep', () => {
  it('deletes settled jobs, logs and webhook events older than RETENTION_DAYS, and keeps failed, waiting and recent ones', async () => {
    const event = (id: string, status: string, daysAgo: number) =>
      t.sql(
        `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, status, body, received_at, correlation_id)
         VALUES (gen_random_uuid(), $1, 'GENERIC', $2, 'x', $3, '{}', now() - make_interval(days => $4), 'c')`,
        [integration, id, status, daysAgo],
      );
    const job = (status: string, daysAgo: number) =>
      t.sql(
        `INSERT INTO integration_job (id, integration_id, operation, status, max_attempts, correlation_id, provider_idempotency_key, updated_at)
         VALUES (gen_random_uuid(), $1, 'customer.upsert', $2, 3, 'c', gen_random_uuid()::text, now() - make_interval(days => $3)) RETURNING id`,
        [integration, status, daysAgo],
      );
    const log = (daysAgo: number) =>
      t.sql(
        `INSERT INTO integration_log (id, service, event_type, direction, status, timestamp, integration_id)
         VALUES (gen_random_uuid(), 'GENERIC', 'x', 'INBOUND', 'SUCCESS', now() - make_interval(days => $1), $2)`,
        [daysAgo, integration],
      );
    await event('old-processed', 'PROCESSED', 40);
    await event('old-ignored', 'IGNORED', 40);
    await event('old-failed', 'FAILED', 40);
    await event('old-waiting', 'RECEIVED', 40);
    await event('new-processed', 'PROCESSED', 1);
    await job('COMPLETED', 40);
    await job('CANCELLED', 40);
    await job('FAILED', 40);
    await job('COMPLETED', 1);
    await log(40);
    await log(1);
    // The audit trail outlives operational logs (AUDIT_RETENTION_DAYS); keys' minute counters go after 10 minutes.
    for (const daysAgo of [40, 400]) {
      await t.sql(`INSERT INTO audit_log (id, action, "timestamp") VALUES (gen_random_uuid(), 'x', now() - make_interval(days => $1))`, [daysAgo]);
    }
    const [{ id: keyId }] = await t.sql<{ id: string }>(`SELECT id FROM api_key LIMIT 1`);
    for (const minutesAgo of [1, 30]) {
      await t.sql(`INSERT INTO api_key_usage (key_id, minute, requests) VALUES ($1, date_trunc('minute', now()) - make_interval(mins => $2), 1)`, [keyId, minutesAgo]);
    }

    const deleted = await sweepRetention(t.gateway.db, { operational: 30, audit: 365 });
    expect(deleted).toEqual({ webhook_event: 2, integration_log: 1, integration_job: 2, audit_log: 1, api_key_usage: 1 });
    expect(await t.sql(`SELECT 1 FROM audit_log WHERE "timestamp" < now() - interval '30 days'`)).toHaveLength(1);
    const events = (await t.sql<{ external_event_id: string }>('SELECT external_event_id FROM webhook_event WHERE integration_id = $1 ORDER BY 1', [integration])).map((r) => r.external_event_id);
    expect(events).toEqual(['new-processed', 'old-failed', 'old-waiting']);
    expect((await t.sql<{ status: string }>('SELECT status FROM integration_job WHERE integration_id = $1 ORDER BY 1', [integration])).map((r) => r.status)).toEqual(['COMPLETED', 'FAILED']);
    // A second sweep finds nothing more.
    expect(await sweepRetention(t.gateway.db, { operational: 30, audit: 365 })).toEqual({ webhook_event: 0, integration_log: 0, integration_job: 0, audit_log: 0, api_key_usage: 0 });
    // RETENTION_DAYS 0 and AUDIT_RETENTION_DAYS 0 keep everything but the minute counters.
    expect(await sweepRetention(t.gateway.db, { operational: 0, audit: 0 })).toEqual({ api_key_usage: 0 });
    // The sweep is scheduled through pg-boss's cron on worker roles.
    const schedules = await t.sql<{ name: string; cron: string }>(`SELECT name, cron FROM pgboss.schedule WHERE name = 'maintenance-retention'`);
    expect(schedules).toEqual([{ name: 'maintenance-retention', cron: '*/15 * * * *' }]);
  });
});
