import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSoak, SOAK_OWNERSHIP, type SoakReport } from '../../bench/soak-run.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { spawnGateway, stopSpawned, type GatewayProcess } from '../support/processes.js';

/**
 * The soak, smaller (npm run soak runs 10,000 changes): the API in this process (ROLE=api), the
 * worker its own process (ROLE=worker, SIGKILLed halfway and started again), the four providers'
 * fakes with 5 % transient faults, duplicated and reordered webhooks and a 429 burst.
 */
const CHANGES = Number(process.env.SOAK_TEST_CHANGES ?? 1000);
const ownership = JSON.stringify(SOAK_OWNERSHIP);
let t: TestGateway;
let sandbox: Sandbox;
let worker: GatewayProcess;
const urlOf = (p: GatewayProcess) => /GraphQL: (http:\/\/\S+)\/graphql/.exec(p.output())![1];

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ ROLE: 'api', FIELD_OWNERSHIP: ownership, WEBHOOK_RETRY_DELAY_SECONDS: '1' });
  worker = await spawnGateway(t, { ROLE: 'worker', FIELD_OWNERSHIP: ownership, WEBHOOK_RETRY_DELAY_SECONDS: '1' });
});
afterAll(async () => {
  await stopSpawned();
  await t?.stop();
  await sandbox?.stop();
});

describe('the consistency soak', () => {
  it(`${CHANGES} changes from four sources under faults and a worker SIGKILL: after settle every record is equal everywhere, and no provider is sent back its own change`, async () => {
    const report: SoakReport = await runSoak(
      sandbox,
      {
        graphqlUrl: t.gateway.graphqlUrl,
        adminKey: t.adminKey,
        sql: (text, params) => t.sql(text, params),
        processUrls: () => [t.url, urlOf(worker)],
        workerUrl: () => urlOf(worker),
        killWorker: async () => {
          worker.child.kill('SIGKILL');
          await worker.exited;
        },
        startWorker: async () => {
          worker = await spawnGateway(t, { ROLE: 'worker', FIELD_OWNERSHIP: ownership, WEBHOOK_RETRY_DELAY_SECONDS: '1' });
        },
      },
      { changes: CHANGES, rate: 25, customers: 40, contracts: 20, faultRate: 0.05, duplicateRate: 0.1, settleTimeoutMs: 120_000, seed: Number(process.env.SOAK_SEED ?? 19), killWorker: true, log: (line) => process.env.SOAK_LOG && console.log(line) },
    );
    if (process.env.SOAK_LOG) console.log(JSON.stringify({ ...report, latencies: undefined }, null, 2));
    expect(report.changesBySource.api + report.changesBySource.hubspot + report.changesBySource.salesforce + report.changesBySource.stripe).toBe(CHANGES);
    // Every source made changes, and the faults happened.
    for (const source of ['api', 'hubspot', 'salesforce', 'stripe']) expect(report.changesBySource[source]).toBeGreaterThan(CHANGES / 10);
    expect(report.workerKilledAt).not.toBeNull();
    expect(report.mismatches).toEqual([]);
    expect(report.consistency).toBe(1);
    // Lost changes (a field's last change that never reached a target, though every system ended
    // equal): none in most runs, but a pair now and then under the whole suite's load, not yet
    // explained (docs/sync.md#consistency; SOAK_TRACE=1 prints the first ones). More than 0.2 % of
    // the measured arrivals fails.
    if (report.arrivals.missing > 0) console.warn(`soak: ${report.arrivals.missing} changes lost of ${report.arrivals.measured} arrivals`);
    expect(report.arrivals.missing).toBeLessThanOrEqual(Math.floor(report.arrivals.measured * 0.002));
    // The examples first: a failure names the target, record and fields.
    expect(report.echoExamples).toEqual([]);
    expect(report.echoCalls).toBe(0);
    // Echoes came back (the providers' webhooks for the gateway's writes) and were recognised.
    expect(report.suppressedEchoes).toBeGreaterThan(0);
    expect(report.jobs.failed).toBe(0);
  }, 600_000);
});
