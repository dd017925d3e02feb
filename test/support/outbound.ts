import type { IntegrationJob, JobStatus } from '../../src/domain/job/integration-job.entity.js';
import type { TestGateway } from './gateway.js';
import { CreateIntegrationDocument } from '../generated/graphql.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { fromGlobalId } from '../../src/domain/shared/ids.js';

export const STRIPE_KEY = 'sk_test_51SandboxSecretValue0123456789';
export const HUBSPOT_TOKEN = 'pat-na1-sandbox-token-0123456789abcdef';
export const SENDGRID_KEY = 'SG.sandbox-key.0123456789abcdefghijklmnop';

export const rowId = (globalId: string) => fromGlobalId(globalId)!.id;

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * Resolves when every listed job has reached one of `statuses` (default: any terminal state):
 * from the in-process job topic, and from the rows (polled), for jobs run by other processes.
 */
export async function waitForJobs(t: TestGateway, jobIds: string[], statuses: string[] = TERMINAL, timeoutMs = 60_000): Promise<Map<string, string>> {
  const ids = jobIds.map((id) => (id.includes('-') ? id : rowId(id)));
  const pending = new Set(ids);
  const reached = new Map<string, string>();
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    let poller: NodeJS.Timeout | undefined;
    const check = () =>
      t.sql<{ id: string; status: string }>('SELECT id, status FROM integration_job WHERE id = ANY($1)', [[...pending]]).then((rows) => {
        for (const r of rows) settle(r.id, r.status);
      }, reject);
    const timer = setTimeout(() => {
      clearInterval(poller);
      unsubscribe();
      reject(new Error(`${pending.size} of ${ids.length} jobs did not reach ${statuses.join('/')} in ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (id: string, status: string) => {
      if (!pending.has(id) || !statuses.includes(status)) return;
      pending.delete(id);
      reached.set(id, status);
      if (pending.size === 0) {
        clearTimeout(timer);
        clearInterval(poller);
        unsubscribe();
        resolve(reached);
      }
    };
    unsubscribe = t.gateway.services.events.subscribe('job.updated', (job: IntegrationJob) => settle(job.id, job.status as JobStatus));
    void check();
    poller = setInterval(() => void check(), 100);
  });
}

export async function createIntegrations(t: TestGateway, sandbox: Sandbox, settings: Record<string, unknown> = {}) {
  const make = async (provider: 'STRIPE' | 'HUBSPOT' | 'SENDGRID', baseUrl: string, credentials: Record<string, string>, autoSync?: Array<'Customer' | 'Contract'>) =>
    (await t.run(CreateIntegrationDocument, { input: { provider, name: `${provider} sandbox`, baseUrl, credentials, settings, autoSync } })).createIntegration.integration;
  return {
    stripe: await make('STRIPE', sandbox.stripe.url, { apiKey: STRIPE_KEY }),
    hubspot: await make('HUBSPOT', sandbox.hubspot.url, { accessToken: HUBSPOT_TOKEN }),
    sendgrid: await make('SENDGRID', sandbox.sendgrid.url, { apiKey: SENDGRID_KEY }),
  };
}
