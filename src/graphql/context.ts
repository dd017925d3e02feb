import type { Principal } from '../domain/auth/api-key.service.js';
import type { AccessScope } from '../domain/shared/access.js';
import type { Loaders } from './loaders.js';
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
