import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from './domain/auth/api-key.service.js';
import { AuditService } from './domain/audit/audit.service.js';
import { KeyRateLimiter } from './domain/auth/key-rate-limiter.js';
import { ContractService } from './domain/contract/contract.service.js';
import { CustomerService } from './domain/customer/customer.service.js';
import { ExternalRefService } from './domain/external-ref/external-ref.service.js';
import { CredentialCipher } from './domain/integration/credential-cipher.js';
import { IntegrationService } from './domain/integration/integration.service.js';
import { InvoiceService } from './domain/invoice/invoice.service.js';
import { EventBus } from './jobs/job-events.js';
import { JobService } from './jobs/job.service.js';
import { WebhookService } from './webhooks/webhook.service.js';
import { SharedRate } from './jobs/shared-rate.js';
import { SyncService } from './sync/sync.service.js';
import { AlertService } from './alerts/alert.service.js';
import { HealthService } from './alerts/health.service.js';
import { DEFAULT_OWNERSHIP, type Ownership } from './webhooks/ownership.js';
import { createOutboundHttp, DEFAULT_OUTBOUND_POLICY, type OutboundHttp, type OutboundPolicy } from './http/outbound-policy.js';

/** The domain services, built once per process over one data source. */
export interface Services {
  db: DataSource;
  customers: CustomerService;
  contracts: ContractService;
  invoices: InvoiceService;
  externalRefs: ExternalRefService;
  integrations: IntegrationService;
  apiKeys: ApiKeyService;
  /** requestsPerMinute of API keys, shared by every API process. */
  keyRateLimiter: KeyRateLimiter;
  audit: AuditService;
  jobs: JobService;
  webhooks: WebhookService;
  events: EventBus;
  /** The one outbound HTTP policy and pool: every provider call goes through it. */
  outbound: OutboundHttp;
  /** Sync runs (backfill and polling) and rehydrate; the runs are carried out by SyncRunner. */
  sync: SyncService;
  /** Alert rules and alerts; AlertEvaluator (worker roles) fires and resolves them. */
  alerts: AlertService;
  /** The console overview's health and throughput figures. */
  health: HealthService;
}

export function createServices(
  db: DataSource,
  encryptionKey: Buffer,
  boss: PgBoss,
  webhookRetry: { retryLimit: number; retryDelay: number },
  outboundPolicy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY,
  previousKeys: readonly Buffer[] = [],
  events = new EventBus(),
  fieldOwnership: Ownership = DEFAULT_OWNERSHIP,
): Services {
  const outbound = createOutboundHttp(outboundPolicy);
  const integrations = new IntegrationService(db, new CredentialCipher(encryptionKey, previousKeys), outboundPolicy);
  const jobs = new JobService(db, boss, events);
  return {
    outbound,
    sync: new SyncService(db, boss, integrations, events, outbound, new SharedRate(db), fieldOwnership, jobs),
    webhooks: new WebhookService(db, boss, webhookRetry),
    events,
    jobs,
    db,
    customers: new CustomerService(db),
    contracts: new ContractService(db),
    invoices: new InvoiceService(db),
    externalRefs: new ExternalRefService(db),
    integrations,
    apiKeys: new ApiKeyService(db),
    keyRateLimiter: new KeyRateLimiter(db),
    audit: new AuditService(db),
    alerts: new AlertService(db),
    health: new HealthService(db),
  };
}
