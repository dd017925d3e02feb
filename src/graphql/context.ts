import type { Principal } from '../domain/auth/api-key.service.js';
import type { AccessScope } from '../domain/shared/access.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { Services } from '../services.js';
import type { SubscriptionExtra } from './subscriptions.js';

/** Per-request GraphQL context: who is asking, what they may see, and this request's loaders. */
export interface GraphQLContext {
  principal: Principal;
  scope: AccessScope;
  loaders: Loaders;
  services: Services;
  correlationId: string;
  /** Filled in while the request runs, read by the HTTP metrics (operation name). */
  observed: { operation?: string };
  /** Base URL providers and clients reach this gateway at. */
  publicUrl: string;
  /** Set for operations over WebSocket: the socket and the event relay subscriptions read. */
  subscription?: SubscriptionExtra;
}

/** A fresh context for one operation (HTTP request, or WebSocket operation) by this principal. */
export function operationContext(principal: Principal, services: Services, correlationId: string, publicUrl: string, subscription?: SubscriptionExtra): GraphQLContext {
  return {
    principal,
    scope: { customerIds: principal.customerIds },
    loaders: createLoaders(services),
    services,
    correlationId,
    observed: {},
    publicUrl,
    ...(subscription ? { subscription } : {}),
  };
}
