import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { parseGenericEvents } from './events.js';
import { genericHandler } from './inbound.js';
import { verifyStandardWebhooks } from './signature.js';

/** Any system that sends Standard Webhooks: stored, deduplicated and replayable. */
export const genericProvider = {
  provider: Provider.GENERIC,
  credentialKeys: ['headers'],
  defaultRequestsPerSecond: 10,
  webhookSecretKind: 'standard-webhooks-secret',
  // Generic providers only send us webhooks (Standard Webhooks); nothing is called out.
  connector: null,
  autoSync: {},
  verify: verifyStandardWebhooks,
  parse: parseGenericEvents,
  inbound: genericHandler,
} as const satisfies ProviderModule;
