import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import type { SendGridState } from '../../src/providers/sendgrid/fake.js';
import {
  AlertRulesDocument,
  AlertsDocument,
  CreateAlertRuleDocument,
  CreateApiKeyDocument,
  CreateIntegrationDocument,
  DeleteAlertRuleDocument,
  IntegrationDocument,
  IntegrationHealthDocument,
  PauseIntegrationDocument,
  PushCustomerDocument,
  ResumeIntegrationDocument,
  SendNotificationDocument,
  StartSyncDocument,
  ThroughputDocument,
  UpdateAlertRuleDocument,
  type CreateAlertRuleInput,
} from '../generated/graphql.js';
import { codes, scrapeMetrics, startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId, SENDGRID_KEY, STRIPE_KEY, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { subscribe } from '../support/subscriptions.js';

let t: TestGateway;
let sandbox: Sandbox;
let sendgridId: string;
let operatorKey: string;
const EVAL_MS = 150;

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ ALERT_EVAL_INTERVAL_MS: String(EVAL_MS), CIRCUIT_COOLDOWN_MS: '400', CIRCUIT_FAILURE_THRESHOLD: '5', ALERT_EMAIL_FROM: 'alerts@example.com' });
  sendgridId = (
    await t.run(CreateIntegrationDocument, { input: { provider: 'SENDGRID', name: 'alert mail', baseUrl: sandbox.sendgrid.url, credentials: { apiKey: SENDGRID_KEY } } })
  ).createIntegration.integration.id;
  operatorKey = (await t.run(CreateApiKeyDocument, { input: { name: 'ops', role: 'OPERATOR' } })).createApiKey.key;
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

async function stripeIntegration(name: string, settings: Record<string, unknown> = {}): Promise<string> {
  return (await t.run(CreateIntegrationDocument, { input: { provider: 'STRIPE', name, baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, settings } })).createIntegration.integration
    .id;
}

async function push(integrationId: string, n: number, prefix: string): Promise<string[]> {
  const customers = await t.sql<{ id: string }>(
    `INSERT INTO customer (id, name, email) SELECT gen_random_uuid(), $2 || ' ' || i, lower($2) || i || '@example.com' FROM generate_series(1, $1::int) i RETURNING id`,
    [n, prefix],
  );
  const jobs: string[] = [];
  for (const c of customers) jobs.push((await t.run(PushCustomerDocument, { customerId: c.id, integrationId })).pushCustomer.job.id);
  return jobs;
}

async function createRule(input: CreateAlertRuleInput, key = operatorKey) {
  return (await t.run(CreateAlertRuleDocument, { input }, { key })).createAlertRule.alertRule;
}

async function alertsOf(ruleId: string) {
  return (await t.run(AlertsDocument, { filter: { ruleId }, first: 100 }, { key: operatorKey })).alerts.edges.map((e) => e.node);
}

/** Evaluation rounds made so far (the rule's lastEvaluatedAt moves once per round). */
async function lastEvaluated(ruleId: string): Promise<number> {
  const [row] = await t.sql<{ at: Date | null }>(`SELECT last_evaluated_at AS at FROM alert_rule WHERE id = $1`, [rowId(ruleId)]);
  return row.at ? row.at.getTime() : 0;
}

/** Waits until `rounds` more evaluation rounds have judged the rule. */
async function rounds(ruleId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = await lastEvaluated(ruleId);
    await until(async () => (await lastEvaluated(ruleId)) > before, 10_000);
  }
}

/** Alert emails the SendGrid fake received about a rule (by its name in the subject). */
function emailsAbout(ruleName: string): Array<{ subject: string; text: string; to: string }> {
  return sandbox.sendgrid
    .state<SendGridState>()
    .messages.map((m) => m.body as { subject?: string; content?: Array<{ value: string }>; personalizations: Array<{ to: Array<{ email: string }> }> })
    .filter((b) => b.subject?.endsWith(`: ${ruleName}`))
    .map((b) => ({ subject: b.subject!, text: b.content?.[0]?.value ?? '', to: b.personalizations[0].to[0].email }));
}

describe('alerts', () => {
  it('a sandbox outage opens the circuit: a CIRCUIT_OPEN alert fires once with one email; recovery resolves it once with a resolved email; an OPERATOR subscriber sees both', async () => {
    const integrationId = await stripeIntegration('outage', { timeoutMs: 500, retryBaseDelayMs: 20, retryMaxDelayMs: 100, maxAttempts: 50, requestsPerSecond: 1000 });
    const rule = await createRule({
      name: 'stripe circuit',
      kind: 'CIRCUIT_OPEN',
      integrationId,
      threshold: 1,
      resolveAfterEvaluations: 2,
      notifyIntegrationId: sendgridId,
      notifyEmail: 'oncall@example.com',
    });
    expect(rule).toMatchObject({ kind: 'CIRCUIT_OPEN', threshold: 1, resolveThreshold: 1, resolveAfterEvaluations: 2, enabled: true, integrationId });
    // Audited, with the address masked as personal data.
    const [audit] = await t.sql<{ changes: Record<string, unknown> }>(`SELECT changes FROM audit_log WHERE action = 'createAlertRule' AND target_id = $1`, [rowId(rule.id)]);
    expect(audit.changes).toMatchObject({ kind: { after: 'CIRCUIT_OPEN' }, notifyEmail: { before: null } });
    expect(JSON.stringify(audit.changes)).not.toContain('oncall@example.com');

    const operator = subscribe(t.url, operatorKey, 'subscription { alertUpdated { id status message rule { id } } }');
    await operator.connected;

    sandbox.stripe.setFaults({ outage: true });
    const jobIds = await push(integrationId, 10, 'Outage');
    await until(async () => (await t.run(IntegrationDocument, { id: integrationId })).integration.circuit === 'OPEN', 30_000);
    const firing = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'FIRING'), 10_000);
    expect(firing.message).toContain('"outage" (STRIPE');
    expect(firing.value).toBeGreaterThanOrEqual(1);
    const fired = await until(() => emailsAbout('stripe circuit').find((e) => e.subject.startsWith('[Switchboard] FIRING')), 10_000);
    expect(fired.to).toBe('oncall@example.com');
    expect(fired.text).toContain('circuit not closed');

    // The outage goes on through several rounds (the circuit flips between OPEN and HALF_OPEN
    // as probes fail): still the one alert and the one email.
    await rounds(rule.id, 4);
    expect((await alertsOf(rule.id)).map((a) => a.status)).toEqual(['FIRING']);
    expect(emailsAbout('stripe circuit')).toHaveLength(1);

    sandbox.stripe.setFaults({ outage: false });
    const done = await waitForJobs(t, jobIds, ['COMPLETED', 'FAILED'], 60_000);
    expect([...done.values()].every((s) => s === 'COMPLETED')).toBe(true);
    const resolved = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'RESOLVED'), 10_000);
    expect(resolved.id).toBe(firing.id);
    expect(resolved.resolvedAt).not.toBeNull();
    await until(() => emailsAbout('stripe circuit').find((e) => e.subject.startsWith('[Switchboard] RESOLVED')), 10_000);

    // Closed stays closed: nothing fires again, nothing more is sent.
    await rounds(rule.id, 3);
    const all = await alertsOf(rule.id);
    expect(all).toHaveLength(1);
    expect(emailsAbout('stripe circuit').map((e) => e.subject)).toEqual(['[Switchboard] FIRING: stripe circuit', '[Switchboard] RESOLVED: stripe circuit']);

    // The emails went through the outbound engine as jobs of the SENDGRID integration.
    const mailJobs = await t.sql<{ idempotency_key: string; status: string; operation: string }>(
      `SELECT idempotency_key, status, operation FROM integration_job WHERE integration_id = $1 AND correlation_id = $2 ORDER BY created_at`,
      [rowId(sendgridId), `alert-${rowId(firing.id)}`],
    );
    expect(mailJobs).toEqual([
      { idempotency_key: `alert-${rowId(firing.id)}-firing`, status: 'COMPLETED', operation: 'notification.send' },
      { idempotency_key: `alert-${rowId(firing.id)}-resolved`, status: 'COMPLETED', operation: 'notification.send' },
    ]);

    const mine = (operator.events as Array<{ alertUpdated: { id: string; status: string; rule: { id: string } } }>).map((e) => e.alertUpdated).filter((a) => a.rule.id === rule.id);
    expect(mine.map((a) => [a.id, a.status])).toEqual([
      [firing.id, 'FIRING'],
      [firing.id, 'RESOLVED'],
    ]);
    expect(operator.errors).toEqual([]);
    await operator.dispose();
  }, 120_000);

  it('FAILURE_RATE needs minAttempts before it judges, fires once at the threshold, stays FIRING while the rate hovers around it, and resolves below resolveThreshold', async () => {
    const key = 'SG.rate-test.0123456789abcdefghij';
    const target = (
      await t.run(CreateIntegrationDocument, {
        input: { provider: 'SENDGRID', name: 'rate mail', baseUrl: sandbox.sendgrid.url, credentials: { apiKey: key }, settings: { maxAttempts: 1, requestsPerSecond: 1000 } },
      })
    ).createIntegration.integration.id;
    const rule = await createRule({ name: 'mail failures', kind: 'FAILURE_RATE', integrationId: target, threshold: 0.5, minAttempts: 4, windowSeconds: 3600, resolveAfterEvaluations: 2 });
    expect(rule.resolveThreshold).toBeCloseTo(0.4);

    let n = 0;
    const send = async (count: number, fail: boolean) => {
      sandbox.sendgrid.setFaults({ byCredential: { [key]: { errorRate: fail ? 1 : 0 } } });
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        ids.push(
          (await t.run(SendNotificationDocument, { integrationId: target, input: { to: `r${n++}@example.com`, from: 'billing@example.com', templateId: 'd-0123456789abcdef0123456789abcdef' } }))
            .sendNotification.job.id,
        );
      }
      const done = await waitForJobs(t, ids);
      expect([...done.values()].every((s) => s === (fail ? 'FAILED' : 'COMPLETED'))).toBe(true);
    };

    // Three failures out of three: too few attempts to call it a rate.
    await send(3, true);
    await rounds(rule.id, 2);
    expect(await alertsOf(rule.id)).toEqual([]);
    expect((await t.run(AlertRulesDocument, {}, { key: operatorKey })).alertRules.find((r) => r.id === rule.id)!.lastValue).toBeNull();

    // 3 of 4 failed: 0.75 fires.
    await send(1, false);
    const firing = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'FIRING'), 10_000);
    expect(firing.value).toBeCloseTo(0.75);
    expect(firing.message).toContain('75 % of 4 outbound attempts failed');

    // Around the threshold: 3/7 = 0.43, 4/8 = 0.5, 4/9 = 0.44, all above resolveThreshold 0.4.
    await send(3, false);
    await rounds(rule.id, 3);
    await send(1, true);
    await rounds(rule.id, 3);
    await send(1, false);
    await rounds(rule.id, 3);
    expect((await alertsOf(rule.id)).map((a) => [a.id, a.status])).toEqual([[firing.id, 'FIRING']]);

    // 4/12 = 0.33: below 0.4, resolved after two rounds.
    await send(3, false);
    const resolved = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'RESOLVED'), 10_000);
    expect(resolved.resolvedValue).toBeCloseTo(4 / 12);
    await rounds(rule.id, 2);
    expect(await alertsOf(rule.id)).toHaveLength(1);
    sandbox.sendgrid.setFaults({ byCredential: { [key]: { errorRate: 0 } } });
  }, 120_000);

  it('QUEUE_LAG fires for a paused integration whose jobs wait, shows in health and the firing gauge, and resolves after resume', async () => {
    const integrationId = await stripeIntegration('paused', { requestsPerSecond: 1000 });
    await t.run(PauseIntegrationDocument, { id: integrationId });
    const rule = await createRule({ name: 'paused lag', kind: 'QUEUE_LAG', integrationId, threshold: 1 });
    const jobIds = await push(integrationId, 3, 'Paused');
    const firing = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'FIRING'), 15_000);
    expect(firing.value).toBeGreaterThanOrEqual(1);
    expect(firing.message).toContain('the oldest of 3 waiting jobs for "paused" (STRIPE)');

    const health = (await t.run(IntegrationHealthDocument, { id: integrationId }, { key: operatorKey })).integration.health;
    expect(health.queueDepth).toBe(3);
    expect(health.oldestWaitingSeconds).toBeGreaterThanOrEqual(1);
    expect(health.attempts).toBe(0);
    expect(health.successRate).toBeNull();
    expect(await scrapeMetrics(t.url, t.adminKey)).toMatch(/switchboard_alerts_firing\{kind="QUEUE_LAG"\} 1/);

    await t.run(ResumeIntegrationDocument, { id: integrationId });
    await waitForJobs(t, jobIds, ['COMPLETED']);
    const resolved = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'RESOLVED'), 10_000);
    expect(resolved.id).toBe(firing.id);
    expect(resolved.resolvedValue).toBe(0);
    expect(await scrapeMetrics(t.url, t.adminKey)).toMatch(/switchboard_alerts_firing\{kind="QUEUE_LAG"\} 0/);
    // A disabled rule is not evaluated; a deleted one takes its alerts with it.
    await t.run(UpdateAlertRuleDocument, { id: rule.id, input: { enabled: false } }, { key: operatorKey });
    await t.run(DeleteAlertRuleDocument, { id: rule.id }, { key: operatorKey });
    expect(await alertsOf(rule.id)).toEqual([]);
  }, 60_000);

  it('two worker processes take turns: one alert and one email per transition, and a subscriber on an api-only process hears both', async () => {
    // A worker-only process and an api-only process on the same database, beside the first (ROLE all).
    const shared = { ENCRYPTION_KEY: t.env.ENCRYPTION_KEY!, ALERT_EVAL_INTERVAL_MS: String(EVAL_MS), ALERT_EMAIL_FROM: 'alerts@example.com' };
    const worker = await startTestGateway({ ...shared, ROLE: 'worker' }, { database: { url: t.databaseUrl } });
    const api = await startTestGateway({ ...shared, ROLE: 'api' }, { database: { url: t.databaseUrl } });
    try {
      const integrationId = await stripeIntegration('two workers', { requestsPerSecond: 1000 });
      await t.run(PauseIntegrationDocument, { id: integrationId });
      const listener = subscribe(api.url, operatorKey, 'subscription { alertUpdated { id status rule { id } } }');
      await listener.connected;
      const rule = await createRule({ name: 'two workers lag', kind: 'QUEUE_LAG', integrationId, threshold: 0.5, resolveAfterEvaluations: 2, notifyIntegrationId: sendgridId, notifyEmail: 'oncall@example.com' });
      const jobIds = await push(integrationId, 2, 'TwoWorkers');
      const firing = await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'FIRING'), 15_000);
      await rounds(rule.id, 4);
      await t.run(ResumeIntegrationDocument, { id: integrationId });
      await waitForJobs(t, jobIds, ['COMPLETED']);
      await until(async () => (await alertsOf(rule.id)).find((a) => a.status === 'RESOLVED'), 15_000);
      await until(() => emailsAbout('two workers lag').length === 2, 15_000);
      await rounds(rule.id, 3);

      expect((await alertsOf(rule.id)).map((a) => a.id)).toEqual([firing.id]);
      expect(emailsAbout('two workers lag').map((e) => e.subject)).toEqual(['[Switchboard] FIRING: two workers lag', '[Switchboard] RESOLVED: two workers lag']);
      await until(() => listener.events.filter((e) => e.alertUpdated.rule.id === rule.id).length === 2, 10_000);
      expect(listener.events.filter((e) => e.alertUpdated.rule.id === rule.id).map((e) => e.alertUpdated.status)).toEqual(['FIRING', 'RESOLVED']);
      // Rounds are spaced by the interval whichever process makes them (not one per process per interval).
      const before = await lastEvaluated(rule.id);
      await rounds(rule.id, 5);
      const spacing = ((await lastEvaluated(rule.id)) - before) / 5;
      expect(spacing).toBeGreaterThanOrEqual(EVAL_MS * 0.75);
      await listener.dispose();
    } finally {
      await api.stop();
      await worker.stop();
    }
  }, 90_000);

  it('WEBHOOK_FAILURES counts rejected webhook requests in its window and resolves once they age out; SYNC_FAILED counts FAILED runs', async () => {
    const hooked = (
      await t.run(CreateIntegrationDocument, {
        input: { provider: 'STRIPE', name: 'hooked', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, webhookSecret: 'whsec_alertstest0123456789abcdefgh' },
      })
    ).createIntegration.integration.id;
    const hooks = await createRule({ name: 'bad hooks', kind: 'WEBHOOK_FAILURES', integrationId: hooked, threshold: 1, windowSeconds: 2, resolveAfterEvaluations: 2 });
    const body = JSON.stringify({ id: 'evt_forged', type: 'customer.updated', data: { object: {} } });
    const res = await fetch(`${t.url}/webhooks/${rowId(hooked)}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` }, body });
    expect(res.status).toBe(401);
    const firing = await until(async () => (await alertsOf(hooks.id)).find((a) => a.status === 'FIRING'), 10_000);
    expect(firing.value).toBe(1);
    expect(firing.message).toContain('1 requests rejected, 0 events failed processing');
    // Two seconds on, the rejection has left the window.
    const resolved = await until(async () => (await alertsOf(hooks.id)).find((a) => a.status === 'RESOLVED'), 15_000);
    expect(resolved.resolvedValue).toBe(0);
    expect(Date.parse(resolved.resolvedAt!) - Date.parse(resolved.firedAt)).toBeGreaterThanOrEqual(1_000);

    // A Stripe key the provider refuses: the run ends FAILED.
    const refused = (
      await t.run(CreateIntegrationDocument, { input: { provider: 'STRIPE', name: 'refused', baseUrl: sandbox.stripe.url, credentials: { apiKey: 'rk_live_refused0123456789' } } })
    ).createIntegration.integration.id;
    const syncs = await createRule({ name: 'failed syncs', kind: 'SYNC_FAILED', threshold: 1, windowSeconds: 600 });
    const run = (await t.run(StartSyncDocument, { integrationId: refused, resource: 'customers', mode: 'FULL' })).startSync.syncRun;
    await until(async () => (await t.sql<{ status: string }>(`SELECT status FROM sync_run WHERE id = $1`, [rowId(run.id)]))[0].status === 'FAILED', 20_000);
    const syncAlert = await until(async () => (await alertsOf(syncs.id)).find((a) => a.status === 'FIRING'), 10_000);
    expect(syncAlert.value).toBeGreaterThanOrEqual(1);
    expect(syncAlert.message).toContain('sync runs FAILED in the last 600 s across all integrations');
    const health = (await t.run(IntegrationHealthDocument, { id: refused }, { key: operatorKey })).integration.health;
    expect(health.lastSyncRun).toEqual({ id: run.id, status: 'FAILED' });
    await t.run(DeleteAlertRuleDocument, { id: syncs.id }, { key: operatorKey });
  }, 60_000);

  it('health and throughput report the attempts, outcomes, latencies and error kinds of the work done', async () => {
    const key = 'sk_test_health_0123456789abcdefghij';
    const integrationId = (
      await t.run(CreateIntegrationDocument, {
        input: { provider: 'STRIPE', name: 'health', baseUrl: sandbox.stripe.url, credentials: { apiKey: key }, settings: { maxAttempts: 1, requestsPerSecond: 1000 } },
      })
    ).createIntegration.integration.id;
    sandbox.stripe.setFaults({ byCredential: { [key]: { errorRate: 1 } } });
    const failed = await push(integrationId, 2, 'Unhealthy');
    expect([...(await waitForJobs(t, failed)).values()]).toEqual(['FAILED', 'FAILED']);
    sandbox.stripe.setFaults({ byCredential: { [key]: { errorRate: 0, latencyMs: 20 } } });
    const ok = await push(integrationId, 5, 'Healthy');
    expect([...(await waitForJobs(t, ok)).values()].every((s) => s === 'COMPLETED')).toBe(true);

    const health = (await t.run(IntegrationHealthDocument, { id: integrationId, windowSeconds: 600 }, { key: operatorKey })).integration.health;
    expect(health).toMatchObject({ windowSeconds: 600, attempts: 7, queueDepth: 0, oldestWaitingSeconds: null, webhookLagSeconds: 0, lastSyncRun: null, errorsByKind: [{ kind: 'server', count: 2 }] });
    expect(health.successRate).toBeCloseTo(5 / 7);
    const [durations] = await t.sql<{ p50: number; p95: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
       FROM integration_log WHERE integration_id = $1 AND direction = 'OUTBOUND'`,
      [rowId(integrationId)],
    );
    expect(health.p50LatencyMs).toBeCloseTo(durations.p50);
    expect(health.p95LatencyMs).toBeCloseTo(durations.p95);
    expect(health.p95LatencyMs!).toBeGreaterThanOrEqual(20);

    const buckets = (await t.run(ThroughputDocument, { sinceSeconds: 600, bucketSeconds: 10, integrationId }, { key: operatorKey })).throughput;
    expect(buckets.length).toBeGreaterThanOrEqual(60);
    expect(buckets.length).toBeLessThanOrEqual(61);
    const times = buckets.map((b) => Date.parse(b.at));
    expect(times.every((at, i) => i === 0 || at - times[i - 1] === 10_000)).toBe(true);
    expect(buckets.reduce((s, b) => s + b.jobsCompleted, 0)).toBe(5);
    expect(buckets.reduce((s, b) => s + b.jobsFailed, 0)).toBe(2);
    expect(buckets.reduce((s, b) => s + b.webhookEvents, 0)).toBe(0);
    // Over all integrations: at least this one's work.
    const all = (await t.run(ThroughputDocument, {}, { key: operatorKey })).throughput;
    expect(all.length).toBeGreaterThanOrEqual(90);
    expect(all.reduce((s, b) => s + b.jobsCompleted, 0)).toBeGreaterThanOrEqual(5);

    const bad = await t.request(ThroughputDocument, { sinceSeconds: 86_400, bucketSeconds: 1 }, { key: operatorKey });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    const badWindow = await t.request(IntegrationHealthDocument, { id: integrationId, windowSeconds: 0 }, { key: operatorKey });
    expect(codes(badWindow)).toEqual(['BAD_USER_INPUT']);
  }, 60_000);

  it('APP and PARTNER keys get FORBIDDEN on rules, alerts, health, throughput and alertUpdated', async () => {
    const customer = (await t.sql<{ id: string }>(`INSERT INTO customer (id, name) VALUES (gen_random_uuid(), 'Granted') RETURNING id`))[0].id;
    const app = (await t.run(CreateApiKeyDocument, { input: { name: 'app', role: 'APP' } })).createApiKey.key;
    const partner = (await t.run(CreateApiKeyDocument, { input: { name: 'partner', role: 'PARTNER', customerIds: [customer] } })).createApiKey.key;
    for (const key of [app, partner]) {
      expect(codes(await t.request(AlertRulesDocument, {}, { key }))).toEqual(['FORBIDDEN']);
      expect(codes(await t.request(AlertsDocument, {}, { key }))).toEqual(['FORBIDDEN']);
      expect(codes(await t.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'QUEUE_LAG', threshold: 5 } }, { key }))).toEqual(['FORBIDDEN']);
      expect(codes(await t.request(ThroughputDocument, {}, { key }))).toEqual(['FORBIDDEN']);
      const sub = subscribe(t.url, key, 'subscription { alertUpdated { id message } }');
      await until(() => sub.errors.length > 0, 10_000);
      expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN');
      expect(sub.events).toEqual([]);
      await sub.dispose();
    }
    // APP reads integrations, but not their health.
    const health = await t.request(IntegrationHealthDocument, { id: sendgridId }, { key: app });
    expect(codes(health)).toContain('FORBIDDEN');
    expect(JSON.stringify(health.body.data ?? null)).not.toContain('queueDepth');
  });

  it('invalid rule input is BAD_USER_INPUT naming the field', async () => {
    const stripeId = await stripeIntegration('not mail');
    const cases: Array<[CreateAlertRuleInput, string]> = [
      [{ name: 'r', kind: 'FAILURE_RATE', threshold: 1.5 }, 'input.threshold'],
      [{ name: 'r', kind: 'FAILURE_RATE', threshold: 0 }, 'input.threshold'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: -1 }, 'input.threshold'],
      [{ name: 'r', kind: 'SYNC_FAILED', threshold: 0.5 }, 'input.threshold'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, windowSeconds: 0 }, 'input.windowSeconds'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, resolveThreshold: 11 }, 'input.resolveThreshold'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, notifyIntegrationId: stripeId, notifyEmail: 'ops@example.com' }, 'input.notifyIntegrationId'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, notifyIntegrationId: sendgridId, notifyEmail: 'not an email' }, 'input.notifyEmail'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, notifyIntegrationId: sendgridId }, 'input.notifyEmail'],
      [{ name: 'r', kind: 'QUEUE_LAG', threshold: 10, notifyEmail: 'ops@example.com' }, 'input.notifyIntegrationId'],
      [{ name: ' ', kind: 'QUEUE_LAG', threshold: 10 }, 'input.name'],
      [{ name: 'r', kind: 'FAILURE_RATE', threshold: 0.5, minAttempts: 0 }, 'input.minAttempts'],
    ];
    for (const [input, field] of cases) {
      const res = await t.request(CreateAlertRuleDocument, { input }, { key: operatorKey });
      expect({ input, codes: codes(res), field: res.body.errors?.[0]?.extensions?.field }).toEqual({ input, codes: ['BAD_USER_INPUT'], field });
    }
    const created = await createRule({ name: 'ok', kind: 'QUEUE_LAG', threshold: 10 });
    expect(codes(await t.request(UpdateAlertRuleDocument, { id: created.id, input: { windowSeconds: -5 } }, { key: operatorKey }))).toEqual(['BAD_USER_INPUT']);
    expect((await t.run(AlertRulesDocument, {}, { key: operatorKey })).alertRules.filter((r) => r.name === 'r')).toEqual([]);
  });
  it('alerts page newest first, filter by status and integration, and count every match', async () => {
    const [{ n }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM alert`);
    expect(n).toBeGreaterThanOrEqual(4);
    const first = (await t.run(AlertsDocument, { first: 2 }, { key: operatorKey })).alerts;
    expect(first.totalCount).toBe(n);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = (await t.run(AlertsDocument, { first: 100, after: first.pageInfo.endCursor }, { key: operatorKey })).alerts;
    const ids = [...first.edges, ...rest.edges].map((e) => e.node.id);
    expect(new Set(ids).size).toBe(n);
    const fired = [...first.edges, ...rest.edges].map((e) => Date.parse(e.node.firedAt));
    expect(fired).toEqual([...fired].sort((a, b) => b - a));
    const resolved = (await t.run(AlertsDocument, { first: 100, filter: { status: 'RESOLVED' } }, { key: operatorKey })).alerts;
    expect(resolved.edges.every((e) => e.node.status === 'RESOLVED')).toBe(true);
    const [{ r }] = await t.sql<{ r: number }>(`SELECT count(*)::int AS r FROM alert WHERE status = 'RESOLVED'`);
    expect(resolved.totalCount).toBe(r);
    const one = resolved.edges.find((e) => e.node.integrationId)!.node;
    const byIntegration = (await t.run(AlertsDocument, { first: 100, filter: { integrationId: one.integrationId } }, { key: operatorKey })).alerts;
    expect(byIntegration.edges.length).toBeGreaterThanOrEqual(1);
    expect(byIntegration.edges.every((e) => e.node.integrationId === one.integrationId)).toBe(true);
  });
});
