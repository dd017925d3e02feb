import type { Integration } from '../domain/integration/integration.entity.js';
import type { Services } from '../services.js';
import type { ReconcileContext } from './reconcile.js';

export interface HandlerResult {
  status: 'PROCESSED' | 'IGNORED';
  note?: string;
}

/**
 * How one provider's events become canonical changes (each provider's `inbound.ts`).
 * `prefetch` runs before the transaction (reads from the provider, never while holding locks);
 * `handle` runs inside it.
 */
export interface InboundHandler {
  prefetch?(payload: unknown, integration: Integration, services: Services): Promise<unknown>;
  handle(ctx: ReconcileContext, payload: unknown, remote: unknown): Promise<HandlerResult>;
}
