import type { CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import type { Provider } from '../domain/integration/integration.entity.js';
import type { OutboundHttp } from '../http/outbound-policy.js';
import { maskText } from '../observability/masking.js';

/** What a connector needs for one call: where, as whom, how long, and the attempt's abort signal. */
export interface CallContext {
  baseUrl: string;
  credentials: Record<string, unknown>;
  timeoutMs: number;
  /** Aborted when the worker stops or the job is cancelled. */
  signal?: AbortSignal;
  /** Existing provider ids of canonical records, looked up by the engine before the call. */
  refs: (entityType: CanonicalEntityType, entityId: string) => Promise<string | null>;
  /** Waits for this integration's shared rate limit before each request. */
  pace?: () => Promise<void>;
  /** Where calls may go and how much of an answer is read (the gateway's one outbound policy). */
  outbound: OutboundHttp;
  /** GENERIC: the integration's saved mappings (how each operation calls its API). */
  mappings?: Record<string, unknown> | null;
  /**
   * The provider said this integration's account must slow down (a quota nearly or wholly spent:
   * Salesforce's Sforce-Limit-Info and REQUEST_LIMIT_EXCEEDED). No call of the integration, from
   * any worker process, gets a rate-limit instant in the next `ms` (at most a minute, see
   * MAX_HOLD_MS): its shared schedule moves, and jobs not yet started wait unfetched, spending no
   * attempt (ADR 0013).
   */
  holdOff?: (ms: number) => Promise<void>;
}

/** One HTTP exchange, with bodies already masked, for the IntegrationLog. */
export interface HttpExchange {
  method: string;
  path: string;
  status: number | null;
  durationMs: number;
  request: unknown;
  response: unknown;
}

/** A provider-side record the call created or touched; the engine writes it as an ExternalRef. */
export interface ProviderLink {
  entityType: CanonicalEntityType;
  entityId: string;
  externalId: string;
  remoteData?: Record<string, unknown>;
}

export interface OperationResult {
  links: ProviderLink[];
  exchanges: HttpExchange[];
  /** Small, non-secret facts worth keeping on the job (provider ids, message ids). */
  summary: Record<string, unknown>;
}

/**
 * `gateway`: a step of the gateway's own failed during the operation (the rate-limit reservation
 * or a reference lookup, both in PostgreSQL), so no request was sent for that step. Retried when
 * the failure can pass (see ownStep in the outbound worker); never held against the provider's
 * health.
 */
export type FailureKind = 'timeout' | 'network' | 'rate_limited' | 'server' | 'client' | 'auth' | 'circuit_open' | 'gateway';

/**
 * A failed provider call, classified once by the connector that understands the provider's
 * error format: the engine retries only what can succeed later.
 */
export class ProviderError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly retryable: boolean,
    readonly httpStatus: number | null = null,
    /** The provider asked for this wait (Retry-After), in milliseconds. */
    readonly retryAfterMs: number | null = null,
    readonly exchanges: HttpExchange[] = [],
  ) {
    // Providers quote what they were sent (an email in a validation error): masked before the
    // message becomes a job's lastError or a log row's errorMsg.
    super(maskText(message));
    this.name = 'ProviderError';
  }
}

/**
 * One provider behind one interface. Each operation receives the job's payload snapshot (taken
 * when the job was enqueued, so every attempt sends the same parameters) and the key the
 * provider must see on every attempt.
 */
export interface Connector {
  provider: Provider;
  operations: Record<string, (payload: Record<string, unknown>, idempotencyKey: string, ctx: CallContext) => Promise<OperationResult>>;
}
