/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AlertFilter = {
  integrationId?: string | number | null | undefined;
  ruleId?: string | number | null | undefined;
  status?: AlertStatus | null | undefined;
};

/** FAILURE_RATE: share of failed outbound attempts over windowSeconds (0 to 1; needs minAttempts attempts). QUEUE_LAG: age in seconds of the oldest waiting job. CIRCUIT_OPEN: 1 while a circuit is OPEN. WEBHOOK_FAILURES: webhook requests rejected and events whose processing FAILED in the window. SYNC_FAILED: sync runs FAILED in the window. */
export type AlertKind =
  | 'CIRCUIT_OPEN'
  | 'FAILURE_RATE'
  | 'QUEUE_LAG'
  | 'SYNC_FAILED'
  | 'WEBHOOK_FAILURES';

/** FIRING until the condition has cleared (below resolveThreshold for resolveAfterEvaluations evaluations), then RESOLVED. */
export type AlertStatus =
  | 'FIRING'
  | 'RESOLVED';

export type AutoSyncEntity =
  | 'Contract'
  | 'Customer';

/** Where a change came from: API (a mutation), WEBHOOK (a provider event), POLL (a sync run or rehydrate), IMPORT. */
export type ChangeSource =
  | 'API'
  | 'IMPORT'
  | 'POLL'
  | 'WEBHOOK';

export type CircuitState =
  | 'CLOSED'
  | 'HALF_OPEN'
  | 'OPEN';

export type CreateAlertRuleInput = {
  /** Default true. */
  enabled?: boolean | null | undefined;
  /** Watch one integration; omitted: all. */
  integrationId?: string | number | null | undefined;
  kind: AlertKind;
  minAttempts?: number | null | undefined;
  name: string;
  notifyEmail?: string | null | undefined;
  /** A SENDGRID integration; needs notifyEmail. */
  notifyIntegrationId?: string | number | null | undefined;
  resolveAfterEvaluations?: number | null | undefined;
  resolveThreshold?: number | null | undefined;
  threshold: number;
  /** Default 300. */
  windowSeconds?: number | null | undefined;
};

export type CreateIntegrationInput = {
  /** Canonical entities whose create/update enqueue a sync job for this integration. */
  autoSync?: Array<AutoSyncEntity> | null | undefined;
  /** https:// to a public address; http:// and loopback only where OUTBOUND_ALLOW_LOOPBACK allows them. Private, link-local, metadata and reserved addresses are refused. */
  baseUrl: string;
  /** STRIPE { apiKey }, HUBSPOT { accessToken }, SENDGRID { apiKey }, GENERIC { headers }, SALESFORCE { clientId, clientSecret }. Write-only. */
  credentials?: unknown;
  /** GENERIC only: keyed by operation (customer.upsert, contract.upsert), each { method, path, body, id, create? }: path a template ({customerId}, {externalId}, ...), body and id JSONata expressions (the request body from the record; the provider id from the answer). Validated when saved. */
  mappings?: unknown;
  name: string;
  provider: Provider;
  /** timeoutMs, maxAttempts, retryBaseDelayMs, retryMaxDelayMs, requestsPerSecond, concurrency */
  settings?: unknown;
  /** STRIPE and GENERIC: the whsec_ secret; HUBSPOT: the app secret; SENDGRID: the public key; SALESFORCE: the organisation id (the webhookUrl then ends in a ?token= the gateway made). Write-only. */
  webhookSecret?: string | null | undefined;
};

export type Direction =
  | 'INBOUND'
  | 'OUTBOUND';

/** Every field given must match (server-side). */
export type IntegrationEventFilter = {
  correlationId?: string | null | undefined;
  /** The canonical record (Customer, Contract or Invoice) the job is about. */
  entityId?: string | number | null | undefined;
  integrationId?: string | number | null | undefined;
  jobId?: string | number | null | undefined;
};

export type IntegrationJobFilter = {
  correlationId?: string | null | undefined;
  createdAfter?: string | null | undefined;
  createdBefore?: string | null | undefined;
  /** The canonical record the job is about. */
  entityId?: string | number | null | undefined;
  integrationId?: string | number | null | undefined;
  operation?: string | null | undefined;
  status?: JobStatus | null | undefined;
};

export type IntegrationLogFilter = {
  correlationId?: string | null | undefined;
  direction?: Direction | null | undefined;
  integrationId?: string | number | null | undefined;
  jobId?: string | number | null | undefined;
  since?: string | null | undefined;
  status?: LogStatus | null | undefined;
  until?: string | null | undefined;
  webhookEventId?: string | number | null | undefined;
};

export type IntegrationStatus =
  | 'ACTIVE'
  | 'DISABLED'
  | 'PAUSED';

/** FAILED is terminal: retries are exhausted and the job sits in the dead-letter queue, replayable. */
export type JobStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'PENDING'
  | 'PROCESSING'
  | 'RETRYING';

export type LogStatus =
  | 'FAILED'
  | 'PENDING'
  | 'SUCCESS';

export type Provider =
  | 'GENERIC'
  | 'HUBSPOT'
  | 'SALESFORCE'
  | 'SENDGRID'
  | 'STRIPE';

/** FULL: every record the provider holds (backfill); ends the links of records it no longer has. INCREMENTAL: what changed since the last checkpoint. */
export type SyncMode =
  | 'FULL'
  | 'INCREMENTAL';

export type SyncRunFilter = {
  integrationId?: string | number | null | undefined;
  resource?: string | null | undefined;
  status?: SyncRunStatus | null | undefined;
};

/** QUEUED: waiting for a worker (or for its paused integration). RUNNING: paging. SUCCEEDED, FAILED (error says why), CANCELLED. */
export type SyncRunStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

/** Fields given are changed; null clears integrationId, notifyIntegrationId and notifyEmail. */
export type UpdateAlertRuleInput = {
  /** false: the rule is not evaluated, and its FIRING alert resolves. */
  enabled?: boolean | null | undefined;
  integrationId?: string | number | null | undefined;
  minAttempts?: number | null | undefined;
  name?: string | null | undefined;
  notifyEmail?: string | null | undefined;
  notifyIntegrationId?: string | number | null | undefined;
  resolveAfterEvaluations?: number | null | undefined;
  resolveThreshold?: number | null | undefined;
  threshold?: number | null | undefined;
  windowSeconds?: number | null | undefined;
};

export type UpdateIntegrationInput = {
  autoSync?: Array<AutoSyncEntity> | null | undefined;
  /** A new host needs credentials in the same call: stored credentials never follow the integration to another host. */
  baseUrl?: string | null | undefined;
  /** Replaces the credentials (rotation); null drops them. Write-only. */
  credentials?: unknown;
  /** GENERIC only: replaces the mappings (validated as in createIntegration); null drops them. */
  mappings?: unknown;
  name?: string | null | undefined;
  /** Replaces the settings. */
  settings?: unknown;
};

export type WebhookEventFilter = {
  correlationId?: string | null | undefined;
  eventType?: string | null | undefined;
  externalEventId?: string | null | undefined;
  integrationId?: string | number | null | undefined;
  receivedAfter?: string | null | undefined;
  receivedBefore?: string | null | undefined;
  status?: WebhookStatus | null | undefined;
};

/** RECEIVED: stored, not yet processed. PROCESSED: applied. IGNORED: nothing to apply (logged why). FAILED: retries exhausted; replayable. */
export type WebhookStatus =
  | 'FAILED'
  | 'IGNORED'
  | 'PROCESSED'
  | 'RECEIVED';

export type ConsoleIntegrationFragment = { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string };

export type ConsoleJobFragment = { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, integration: { id: string, name: string, provider: Provider } };

export type ConsoleLogFragment = { id: string, service: string, eventType: string, direction: Direction, status: LogStatus, timestamp: string, errorMsg: string | null, correlationId: string | null, integrationId: string | null, jobId: string | null, webhookEventId: string | null, httpStatus: number | null, durationMs: number | null, attempt: number | null, errorKind: string | null };

export type ConsoleWebhookEventFragment = { id: string, externalEventId: string, eventType: string, status: WebhookStatus, receivedAt: string, processedAt: string | null, error: string | null, attempts: number, correlationId: string, integration: { id: string, name: string, provider: Provider } };

export type ConsoleSyncRunFragment = { id: string, resource: string, mode: SyncMode, status: SyncRunStatus, queuedAt: string, startedAt: string | null, finishedAt: string | null, pages: number, recordsSeen: number, recordsChanged: number, recordsDeleted: number, error: string | null, note: string | null, integration: { id: string, name: string, provider: Provider } };

export type ConsoleAccessQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleAccessQuery = { integrationLogs: { totalCount: number } };

export type ConsoleIntegrationsQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleIntegrationsQuery = { integrations: { edges: Array<{ node: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } }> } };

export type ConsoleJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: IntegrationJobFilter | null | undefined;
}>;


export type ConsoleJobsQuery = { integrationJobs: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, integration: { id: string, name: string, provider: Provider } } }> } };

export type ConsoleJobQueryVariables = Exact<{
  id: string | number;
}>;


export type ConsoleJobQuery = { integrationJob: { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, logs: Array<{ id: string, service: string, eventType: string, direction: Direction, status: LogStatus, timestamp: string, errorMsg: string | null, correlationId: string | null, integrationId: string | null, jobId: string | null, webhookEventId: string | null, httpStatus: number | null, durationMs: number | null, attempt: number | null, errorKind: string | null }>, integration: { id: string, name: string, provider: Provider } } };

export type ConsoleJobUpdatedSubscriptionVariables = Exact<{
  filter?: IntegrationEventFilter | null | undefined;
}>;


export type ConsoleJobUpdatedSubscription = { integrationJobUpdated: { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, integration: { id: string, name: string, provider: Provider } } };

export type ConsoleRetryJobMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleRetryJobMutation = { retryIntegrationJob: { job: { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, integration: { id: string, name: string, provider: Provider } } } };

export type ConsoleCancelJobMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleCancelJobMutation = { cancelIntegrationJob: { job: { id: string, operation: string, entityType: string | null, entityId: string | null, status: JobStatus, attempts: number, maxAttempts: number, lastError: string | null, correlationId: string, nextAttemptAt: string | null, createdAt: string, updatedAt: string, completedAt: string | null, source: ChangeSource, integration: { id: string, name: string, provider: Provider } } } };

export type ConsoleReplayFailedMutationVariables = Exact<{
  integrationId: string | number;
}>;


export type ConsoleReplayFailedMutation = { replayFailedIntegrationJobs: { jobs: Array<{ id: string, status: JobStatus }> } };

export type ConsoleLogsQueryVariables = Exact<{
  first?: number | null | undefined;
  filter?: IntegrationLogFilter | null | undefined;
}>;


export type ConsoleLogsQuery = { integrationLogs: { totalCount: number, edges: Array<{ node: { id: string, service: string, eventType: string, direction: Direction, status: LogStatus, timestamp: string, errorMsg: string | null, correlationId: string | null, integrationId: string | null, jobId: string | null, webhookEventId: string | null, httpStatus: number | null, durationMs: number | null, attempt: number | null, errorKind: string | null } }> } };

export type ConsoleLogAddedSubscriptionVariables = Exact<{
  filter?: IntegrationEventFilter | null | undefined;
}>;


export type ConsoleLogAddedSubscription = { integrationLogAdded: { id: string, service: string, eventType: string, direction: Direction, status: LogStatus, timestamp: string, errorMsg: string | null, correlationId: string | null, integrationId: string | null, jobId: string | null, webhookEventId: string | null, httpStatus: number | null, durationMs: number | null, attempt: number | null, errorKind: string | null } };

export type ConsoleWebhookEventsQueryVariables = Exact<{
  first?: number | null | undefined;
  filter?: WebhookEventFilter | null | undefined;
}>;


export type ConsoleWebhookEventsQuery = { webhookEvents: { totalCount: number, edges: Array<{ node: { id: string, externalEventId: string, eventType: string, status: WebhookStatus, receivedAt: string, processedAt: string | null, error: string | null, attempts: number, correlationId: string, integration: { id: string, name: string, provider: Provider } } }> } };

export type ConsoleReplayWebhookEventMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleReplayWebhookEventMutation = { replayWebhookEvent: { id: string, externalEventId: string, eventType: string, status: WebhookStatus, receivedAt: string, processedAt: string | null, error: string | null, attempts: number, correlationId: string, integration: { id: string, name: string, provider: Provider } } };

export type ConsoleSyncRunsQueryVariables = Exact<{
  first?: number | null | undefined;
  filter?: SyncRunFilter | null | undefined;
}>;


export type ConsoleSyncRunsQuery = { syncRuns: { totalCount: number, edges: Array<{ node: { id: string, resource: string, mode: SyncMode, status: SyncRunStatus, queuedAt: string, startedAt: string | null, finishedAt: string | null, pages: number, recordsSeen: number, recordsChanged: number, recordsDeleted: number, error: string | null, note: string | null, integration: { id: string, name: string, provider: Provider } } }> } };

export type ConsoleSyncRunUpdatedSubscriptionVariables = Exact<{
  filter?: SyncRunFilter | null | undefined;
}>;


export type ConsoleSyncRunUpdatedSubscription = { syncRunUpdated: { id: string, resource: string, mode: SyncMode, status: SyncRunStatus, queuedAt: string, startedAt: string | null, finishedAt: string | null, pages: number, recordsSeen: number, recordsChanged: number, recordsDeleted: number, error: string | null, note: string | null, integration: { id: string, name: string, provider: Provider } } };

export type ConsoleStartSyncMutationVariables = Exact<{
  integrationId: string | number;
  resource: string;
  mode: SyncMode;
}>;


export type ConsoleStartSyncMutation = { startSync: { syncRun: { id: string, resource: string, mode: SyncMode, status: SyncRunStatus, queuedAt: string, startedAt: string | null, finishedAt: string | null, pages: number, recordsSeen: number, recordsChanged: number, recordsDeleted: number, error: string | null, note: string | null, integration: { id: string, name: string, provider: Provider } } } };

export type ConsoleCancelSyncMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleCancelSyncMutation = { cancelSync: { syncRun: { id: string, resource: string, mode: SyncMode, status: SyncRunStatus, queuedAt: string, startedAt: string | null, finishedAt: string | null, pages: number, recordsSeen: number, recordsChanged: number, recordsDeleted: number, error: string | null, note: string | null, integration: { id: string, name: string, provider: Provider } } } };

export type ConsoleCreateIntegrationMutationVariables = Exact<{
  input: CreateIntegrationInput;
}>;


export type ConsoleCreateIntegrationMutation = { createIntegration: { integration: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } } };

export type ConsoleUpdateIntegrationMutationVariables = Exact<{
  id: string | number;
  input: UpdateIntegrationInput;
}>;


export type ConsoleUpdateIntegrationMutation = { updateIntegration: { integration: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } } };

export type ConsolePauseIntegrationMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsolePauseIntegrationMutation = { pauseIntegration: { integration: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } } };

export type ConsoleResumeIntegrationMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleResumeIntegrationMutation = { resumeIntegration: { integration: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } } };

export type ConsoleRotateSecretMutationVariables = Exact<{
  id: string | number;
  webhookSecret: string;
  graceSeconds?: number | null | undefined;
}>;


export type ConsoleRotateSecretMutation = { rotateIntegrationSecret: { integration: { id: string, provider: Provider, name: string, status: IntegrationStatus, circuit: CircuitState, baseUrl: string, webhookUrl: string, hasCredentials: boolean, hasWebhookSecret: boolean, createdAt: string } } };

export type ConsoleRehydrateMutationVariables = Exact<{
  entityId: string | number;
  integrationId: string | number;
  dryRun: boolean;
}>;


export type ConsoleRehydrateMutation = { rehydrate: { applied: boolean, changes: Array<{ field: string, current: unknown, incoming: unknown, applies: boolean, reason: string | null }> } };

export type ConsoleWebhookEventQueryVariables = Exact<{
  id: string | number;
}>;


export type ConsoleWebhookEventQuery = { node:
    | { id: string, externalEventId: string, eventType: string, status: WebhookStatus, receivedAt: string, processedAt: string | null, error: string | null, attempts: number, correlationId: string, integration: { id: string, name: string, provider: Provider } }
    | Record<PropertyKey, never>
   | null };

export type ConsoleAlertRuleFragment = { id: string, name: string, kind: AlertKind, integrationId: string | null, threshold: number, resolveThreshold: number, windowSeconds: number, minAttempts: number, resolveAfterEvaluations: number, enabled: boolean, notifyIntegrationId: string | null, notifyEmail: string | null, lastValue: number | null, lastEvaluatedAt: string | null, firing: { id: string } | null };

export type ConsoleAlertFragment = { id: string, status: AlertStatus, value: number, resolvedValue: number | null, message: string, firedAt: string, resolvedAt: string | null, integrationId: string | null, rule: { id: string, name: string, kind: AlertKind } };

export type ConsoleOverviewQueryVariables = Exact<{
  windowSeconds?: number | null | undefined;
}>;


export type ConsoleOverviewQuery = { integrations: { edges: Array<{ node: { id: string, name: string, provider: Provider, status: IntegrationStatus, circuit: CircuitState, health: { windowSeconds: number, attempts: number, successRate: number | null, p50LatencyMs: number | null, p95LatencyMs: number | null, queueDepth: number, oldestWaitingSeconds: number | null, webhookLagSeconds: number | null, errorsByKind: Array<{ kind: string, count: number }>, lastSyncRun: { id: string, resource: string, status: SyncRunStatus, finishedAt: string | null, recordsChanged: number } | null } } }> } };

export type ConsoleThroughputQueryVariables = Exact<{
  sinceSeconds?: number | null | undefined;
  bucketSeconds?: number | null | undefined;
}>;


export type ConsoleThroughputQuery = { throughput: Array<{ at: string, jobsCompleted: number, jobsFailed: number, webhookEvents: number }> };

export type ConsoleAlertsQueryVariables = Exact<{
  first?: number | null | undefined;
  filter?: AlertFilter | null | undefined;
}>;


export type ConsoleAlertsQuery = { alertRules: Array<{ id: string, name: string, kind: AlertKind, integrationId: string | null, threshold: number, resolveThreshold: number, windowSeconds: number, minAttempts: number, resolveAfterEvaluations: number, enabled: boolean, notifyIntegrationId: string | null, notifyEmail: string | null, lastValue: number | null, lastEvaluatedAt: string | null, firing: { id: string } | null }>, alerts: { totalCount: number, edges: Array<{ node: { id: string, status: AlertStatus, value: number, resolvedValue: number | null, message: string, firedAt: string, resolvedAt: string | null, integrationId: string | null, rule: { id: string, name: string, kind: AlertKind } } }> } };

export type ConsoleAlertUpdatedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleAlertUpdatedSubscription = { alertUpdated: { id: string, status: AlertStatus, value: number, resolvedValue: number | null, message: string, firedAt: string, resolvedAt: string | null, integrationId: string | null, rule: { id: string, name: string, kind: AlertKind } } };

export type ConsoleCreateAlertRuleMutationVariables = Exact<{
  input: CreateAlertRuleInput;
}>;


export type ConsoleCreateAlertRuleMutation = { createAlertRule: { alertRule: { id: string, name: string, kind: AlertKind, integrationId: string | null, threshold: number, resolveThreshold: number, windowSeconds: number, minAttempts: number, resolveAfterEvaluations: number, enabled: boolean, notifyIntegrationId: string | null, notifyEmail: string | null, lastValue: number | null, lastEvaluatedAt: string | null, firing: { id: string } | null } } };

export type ConsoleUpdateAlertRuleMutationVariables = Exact<{
  id: string | number;
  input: UpdateAlertRuleInput;
}>;


export type ConsoleUpdateAlertRuleMutation = { updateAlertRule: { alertRule: { id: string, name: string, kind: AlertKind, integrationId: string | null, threshold: number, resolveThreshold: number, windowSeconds: number, minAttempts: number, resolveAfterEvaluations: number, enabled: boolean, notifyIntegrationId: string | null, notifyEmail: string | null, lastValue: number | null, lastEvaluatedAt: string | null, firing: { id: string } | null } } };

export type ConsoleDeleteAlertRuleMutationVariables = Exact<{
  id: string | number;
}>;


export type ConsoleDeleteAlertRuleMutation = { deleteAlertRule: { alertRule: { id: string } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ConsoleIntegrationFragmentDoc = new TypedDocumentString(`
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}
    `, {"fragmentName":"ConsoleIntegration"}) as unknown as TypedDocumentString<ConsoleIntegrationFragment, unknown>;
export const ConsoleJobFragmentDoc = new TypedDocumentString(`
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}
    `, {"fragmentName":"ConsoleJob"}) as unknown as TypedDocumentString<ConsoleJobFragment, unknown>;
export const ConsoleLogFragmentDoc = new TypedDocumentString(`
    fragment ConsoleLog on IntegrationLog {
  id
  service
  eventType
  direction
  status
  timestamp
  errorMsg
  correlationId
  integrationId
  jobId
  webhookEventId
  httpStatus
  durationMs
  attempt
  errorKind
}
    `, {"fragmentName":"ConsoleLog"}) as unknown as TypedDocumentString<ConsoleLogFragment, unknown>;
export const ConsoleWebhookEventFragmentDoc = new TypedDocumentString(`
    fragment ConsoleWebhookEvent on WebhookEvent {
  id
  externalEventId
  eventType
  status
  receivedAt
  processedAt
  error
  attempts
  correlationId
  integration {
    id
    name
    provider
  }
}
    `, {"fragmentName":"ConsoleWebhookEvent"}) as unknown as TypedDocumentString<ConsoleWebhookEventFragment, unknown>;
export const ConsoleSyncRunFragmentDoc = new TypedDocumentString(`
    fragment ConsoleSyncRun on SyncRun {
  id
  resource
  mode
  status
  queuedAt
  startedAt
  finishedAt
  pages
  recordsSeen
  recordsChanged
  recordsDeleted
  error
  note
  integration {
    id
    name
    provider
  }
}
    `, {"fragmentName":"ConsoleSyncRun"}) as unknown as TypedDocumentString<ConsoleSyncRunFragment, unknown>;
export const ConsoleAlertRuleFragmentDoc = new TypedDocumentString(`
    fragment ConsoleAlertRule on AlertRule {
  id
  name
  kind
  integrationId
  threshold
  resolveThreshold
  windowSeconds
  minAttempts
  resolveAfterEvaluations
  enabled
  notifyIntegrationId
  notifyEmail
  lastValue
  lastEvaluatedAt
  firing {
    id
  }
}
    `, {"fragmentName":"ConsoleAlertRule"}) as unknown as TypedDocumentString<ConsoleAlertRuleFragment, unknown>;
export const ConsoleAlertFragmentDoc = new TypedDocumentString(`
    fragment ConsoleAlert on Alert {
  id
  status
  value
  resolvedValue
  message
  firedAt
  resolvedAt
  integrationId
  rule {
    id
    name
    kind
  }
}
    `, {"fragmentName":"ConsoleAlert"}) as unknown as TypedDocumentString<ConsoleAlertFragment, unknown>;
export const ConsoleAccessDocument = new TypedDocumentString(`
    query ConsoleAccess {
  integrationLogs(first: 0) {
    totalCount
  }
}
    `) as unknown as TypedDocumentString<ConsoleAccessQuery, ConsoleAccessQueryVariables>;
export const ConsoleIntegrationsDocument = new TypedDocumentString(`
    query ConsoleIntegrations {
  integrations(first: 100) {
    edges {
      node {
        ...ConsoleIntegration
      }
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsoleIntegrationsQuery, ConsoleIntegrationsQueryVariables>;
export const ConsoleJobsDocument = new TypedDocumentString(`
    query ConsoleJobs($first: Int, $after: String, $filter: IntegrationJobFilter) {
  integrationJobs(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...ConsoleJob
      }
    }
  }
}
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleJobsQuery, ConsoleJobsQueryVariables>;
export const ConsoleJobDocument = new TypedDocumentString(`
    query ConsoleJob($id: ID!) {
  integrationJob(id: $id) {
    ...ConsoleJob
    logs {
      ...ConsoleLog
    }
  }
}
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}
fragment ConsoleLog on IntegrationLog {
  id
  service
  eventType
  direction
  status
  timestamp
  errorMsg
  correlationId
  integrationId
  jobId
  webhookEventId
  httpStatus
  durationMs
  attempt
  errorKind
}`) as unknown as TypedDocumentString<ConsoleJobQuery, ConsoleJobQueryVariables>;
export const ConsoleJobUpdatedDocument = new TypedDocumentString(`
    subscription ConsoleJobUpdated($filter: IntegrationEventFilter) {
  integrationJobUpdated(filter: $filter) {
    ...ConsoleJob
  }
}
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleJobUpdatedSubscription, ConsoleJobUpdatedSubscriptionVariables>;
export const ConsoleRetryJobDocument = new TypedDocumentString(`
    mutation ConsoleRetryJob($id: ID!) {
  retryIntegrationJob(id: $id) {
    job {
      ...ConsoleJob
    }
  }
}
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleRetryJobMutation, ConsoleRetryJobMutationVariables>;
export const ConsoleCancelJobDocument = new TypedDocumentString(`
    mutation ConsoleCancelJob($id: ID!) {
  cancelIntegrationJob(id: $id) {
    job {
      ...ConsoleJob
    }
  }
}
    fragment ConsoleJob on IntegrationJob {
  id
  operation
  entityType
  entityId
  status
  attempts
  maxAttempts
  lastError
  correlationId
  nextAttemptAt
  createdAt
  updatedAt
  completedAt
  source
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleCancelJobMutation, ConsoleCancelJobMutationVariables>;
export const ConsoleReplayFailedDocument = new TypedDocumentString(`
    mutation ConsoleReplayFailed($integrationId: ID!) {
  replayFailedIntegrationJobs(integrationId: $integrationId) {
    jobs {
      id
      status
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleReplayFailedMutation, ConsoleReplayFailedMutationVariables>;
export const ConsoleLogsDocument = new TypedDocumentString(`
    query ConsoleLogs($first: Int, $filter: IntegrationLogFilter) {
  integrationLogs(first: $first, filter: $filter) {
    totalCount
    edges {
      node {
        ...ConsoleLog
      }
    }
  }
}
    fragment ConsoleLog on IntegrationLog {
  id
  service
  eventType
  direction
  status
  timestamp
  errorMsg
  correlationId
  integrationId
  jobId
  webhookEventId
  httpStatus
  durationMs
  attempt
  errorKind
}`) as unknown as TypedDocumentString<ConsoleLogsQuery, ConsoleLogsQueryVariables>;
export const ConsoleLogAddedDocument = new TypedDocumentString(`
    subscription ConsoleLogAdded($filter: IntegrationEventFilter) {
  integrationLogAdded(filter: $filter) {
    ...ConsoleLog
  }
}
    fragment ConsoleLog on IntegrationLog {
  id
  service
  eventType
  direction
  status
  timestamp
  errorMsg
  correlationId
  integrationId
  jobId
  webhookEventId
  httpStatus
  durationMs
  attempt
  errorKind
}`) as unknown as TypedDocumentString<ConsoleLogAddedSubscription, ConsoleLogAddedSubscriptionVariables>;
export const ConsoleWebhookEventsDocument = new TypedDocumentString(`
    query ConsoleWebhookEvents($first: Int, $filter: WebhookEventFilter) {
  webhookEvents(first: $first, filter: $filter) {
    totalCount
    edges {
      node {
        ...ConsoleWebhookEvent
      }
    }
  }
}
    fragment ConsoleWebhookEvent on WebhookEvent {
  id
  externalEventId
  eventType
  status
  receivedAt
  processedAt
  error
  attempts
  correlationId
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleWebhookEventsQuery, ConsoleWebhookEventsQueryVariables>;
export const ConsoleReplayWebhookEventDocument = new TypedDocumentString(`
    mutation ConsoleReplayWebhookEvent($id: ID!) {
  replayWebhookEvent(id: $id) {
    ...ConsoleWebhookEvent
  }
}
    fragment ConsoleWebhookEvent on WebhookEvent {
  id
  externalEventId
  eventType
  status
  receivedAt
  processedAt
  error
  attempts
  correlationId
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleReplayWebhookEventMutation, ConsoleReplayWebhookEventMutationVariables>;
export const ConsoleSyncRunsDocument = new TypedDocumentString(`
    query ConsoleSyncRuns($first: Int, $filter: SyncRunFilter) {
  syncRuns(first: $first, filter: $filter) {
    totalCount
    edges {
      node {
        ...ConsoleSyncRun
      }
    }
  }
}
    fragment ConsoleSyncRun on SyncRun {
  id
  resource
  mode
  status
  queuedAt
  startedAt
  finishedAt
  pages
  recordsSeen
  recordsChanged
  recordsDeleted
  error
  note
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleSyncRunsQuery, ConsoleSyncRunsQueryVariables>;
export const ConsoleSyncRunUpdatedDocument = new TypedDocumentString(`
    subscription ConsoleSyncRunUpdated($filter: SyncRunFilter) {
  syncRunUpdated(filter: $filter) {
    ...ConsoleSyncRun
  }
}
    fragment ConsoleSyncRun on SyncRun {
  id
  resource
  mode
  status
  queuedAt
  startedAt
  finishedAt
  pages
  recordsSeen
  recordsChanged
  recordsDeleted
  error
  note
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleSyncRunUpdatedSubscription, ConsoleSyncRunUpdatedSubscriptionVariables>;
export const ConsoleStartSyncDocument = new TypedDocumentString(`
    mutation ConsoleStartSync($integrationId: ID!, $resource: String!, $mode: SyncMode!) {
  startSync(integrationId: $integrationId, resource: $resource, mode: $mode) {
    syncRun {
      ...ConsoleSyncRun
    }
  }
}
    fragment ConsoleSyncRun on SyncRun {
  id
  resource
  mode
  status
  queuedAt
  startedAt
  finishedAt
  pages
  recordsSeen
  recordsChanged
  recordsDeleted
  error
  note
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleStartSyncMutation, ConsoleStartSyncMutationVariables>;
export const ConsoleCancelSyncDocument = new TypedDocumentString(`
    mutation ConsoleCancelSync($id: ID!) {
  cancelSync(id: $id) {
    syncRun {
      ...ConsoleSyncRun
    }
  }
}
    fragment ConsoleSyncRun on SyncRun {
  id
  resource
  mode
  status
  queuedAt
  startedAt
  finishedAt
  pages
  recordsSeen
  recordsChanged
  recordsDeleted
  error
  note
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleCancelSyncMutation, ConsoleCancelSyncMutationVariables>;
export const ConsoleCreateIntegrationDocument = new TypedDocumentString(`
    mutation ConsoleCreateIntegration($input: CreateIntegrationInput!) {
  createIntegration(input: $input) {
    integration {
      ...ConsoleIntegration
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsoleCreateIntegrationMutation, ConsoleCreateIntegrationMutationVariables>;
export const ConsoleUpdateIntegrationDocument = new TypedDocumentString(`
    mutation ConsoleUpdateIntegration($id: ID!, $input: UpdateIntegrationInput!) {
  updateIntegration(id: $id, input: $input) {
    integration {
      ...ConsoleIntegration
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsoleUpdateIntegrationMutation, ConsoleUpdateIntegrationMutationVariables>;
export const ConsolePauseIntegrationDocument = new TypedDocumentString(`
    mutation ConsolePauseIntegration($id: ID!) {
  pauseIntegration(id: $id) {
    integration {
      ...ConsoleIntegration
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsolePauseIntegrationMutation, ConsolePauseIntegrationMutationVariables>;
export const ConsoleResumeIntegrationDocument = new TypedDocumentString(`
    mutation ConsoleResumeIntegration($id: ID!) {
  resumeIntegration(id: $id) {
    integration {
      ...ConsoleIntegration
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsoleResumeIntegrationMutation, ConsoleResumeIntegrationMutationVariables>;
export const ConsoleRotateSecretDocument = new TypedDocumentString(`
    mutation ConsoleRotateSecret($id: ID!, $webhookSecret: String!, $graceSeconds: Int) {
  rotateIntegrationSecret(
    id: $id
    webhookSecret: $webhookSecret
    graceSeconds: $graceSeconds
  ) {
    integration {
      ...ConsoleIntegration
    }
  }
}
    fragment ConsoleIntegration on Integration {
  id
  provider
  name
  status
  circuit
  baseUrl
  webhookUrl
  hasCredentials
  hasWebhookSecret
  createdAt
}`) as unknown as TypedDocumentString<ConsoleRotateSecretMutation, ConsoleRotateSecretMutationVariables>;
export const ConsoleRehydrateDocument = new TypedDocumentString(`
    mutation ConsoleRehydrate($entityId: ID!, $integrationId: ID!, $dryRun: Boolean!) {
  rehydrate(entityId: $entityId, integrationId: $integrationId, dryRun: $dryRun) {
    applied
    changes {
      field
      current
      incoming
      applies
      reason
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleRehydrateMutation, ConsoleRehydrateMutationVariables>;
export const ConsoleWebhookEventDocument = new TypedDocumentString(`
    query ConsoleWebhookEvent($id: ID!) {
  node(id: $id) {
    ... on WebhookEvent {
      ...ConsoleWebhookEvent
    }
  }
}
    fragment ConsoleWebhookEvent on WebhookEvent {
  id
  externalEventId
  eventType
  status
  receivedAt
  processedAt
  error
  attempts
  correlationId
  integration {
    id
    name
    provider
  }
}`) as unknown as TypedDocumentString<ConsoleWebhookEventQuery, ConsoleWebhookEventQueryVariables>;
export const ConsoleOverviewDocument = new TypedDocumentString(`
    query ConsoleOverview($windowSeconds: Int) {
  integrations(first: 100) {
    edges {
      node {
        id
        name
        provider
        status
        circuit
        health(windowSeconds: $windowSeconds) {
          windowSeconds
          attempts
          successRate
          p50LatencyMs
          p95LatencyMs
          errorsByKind {
            kind
            count
          }
          queueDepth
          oldestWaitingSeconds
          webhookLagSeconds
          lastSyncRun {
            id
            resource
            status
            finishedAt
            recordsChanged
          }
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleOverviewQuery, ConsoleOverviewQueryVariables>;
export const ConsoleThroughputDocument = new TypedDocumentString(`
    query ConsoleThroughput($sinceSeconds: Int, $bucketSeconds: Int) {
  throughput(sinceSeconds: $sinceSeconds, bucketSeconds: $bucketSeconds) {
    at
    jobsCompleted
    jobsFailed
    webhookEvents
  }
}
    `) as unknown as TypedDocumentString<ConsoleThroughputQuery, ConsoleThroughputQueryVariables>;
export const ConsoleAlertsDocument = new TypedDocumentString(`
    query ConsoleAlerts($first: Int, $filter: AlertFilter) {
  alertRules {
    ...ConsoleAlertRule
  }
  alerts(first: $first, filter: $filter) {
    totalCount
    edges {
      node {
        ...ConsoleAlert
      }
    }
  }
}
    fragment ConsoleAlertRule on AlertRule {
  id
  name
  kind
  integrationId
  threshold
  resolveThreshold
  windowSeconds
  minAttempts
  resolveAfterEvaluations
  enabled
  notifyIntegrationId
  notifyEmail
  lastValue
  lastEvaluatedAt
  firing {
    id
  }
}
fragment ConsoleAlert on Alert {
  id
  status
  value
  resolvedValue
  message
  firedAt
  resolvedAt
  integrationId
  rule {
    id
    name
    kind
  }
}`) as unknown as TypedDocumentString<ConsoleAlertsQuery, ConsoleAlertsQueryVariables>;
export const ConsoleAlertUpdatedDocument = new TypedDocumentString(`
    subscription ConsoleAlertUpdated {
  alertUpdated {
    ...ConsoleAlert
  }
}
    fragment ConsoleAlert on Alert {
  id
  status
  value
  resolvedValue
  message
  firedAt
  resolvedAt
  integrationId
  rule {
    id
    name
    kind
  }
}`) as unknown as TypedDocumentString<ConsoleAlertUpdatedSubscription, ConsoleAlertUpdatedSubscriptionVariables>;
export const ConsoleCreateAlertRuleDocument = new TypedDocumentString(`
    mutation ConsoleCreateAlertRule($input: CreateAlertRuleInput!) {
  createAlertRule(input: $input) {
    alertRule {
      ...ConsoleAlertRule
    }
  }
}
    fragment ConsoleAlertRule on AlertRule {
  id
  name
  kind
  integrationId
  threshold
  resolveThreshold
  windowSeconds
  minAttempts
  resolveAfterEvaluations
  enabled
  notifyIntegrationId
  notifyEmail
  lastValue
  lastEvaluatedAt
  firing {
    id
  }
}`) as unknown as TypedDocumentString<ConsoleCreateAlertRuleMutation, ConsoleCreateAlertRuleMutationVariables>;
export const ConsoleUpdateAlertRuleDocument = new TypedDocumentString(`
    mutation ConsoleUpdateAlertRule($id: ID!, $input: UpdateAlertRuleInput!) {
  updateAlertRule(id: $id, input: $input) {
    alertRule {
      ...ConsoleAlertRule
    }
  }
}
    fragment ConsoleAlertRule on AlertRule {
  id
  name
  kind
  integrationId
  threshold
  resolveThreshold
  windowSeconds
  minAttempts
  resolveAfterEvaluations
  enabled
  notifyIntegrationId
  notifyEmail
  lastValue
  lastEvaluatedAt
  firing {
    id
  }
}`) as unknown as TypedDocumentString<ConsoleUpdateAlertRuleMutation, ConsoleUpdateAlertRuleMutationVariables>;
export const ConsoleDeleteAlertRuleDocument = new TypedDocumentString(`
    mutation ConsoleDeleteAlertRule($id: ID!) {
  deleteAlertRule(id: $id) {
    alertRule {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleDeleteAlertRuleMutation, ConsoleDeleteAlertRuleMutationVariables>;