import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { genericConnector } from './connector.js';
import { parseGenericEvents } from './events.js';
import { CrmFake } from './fake.js';
import { genericHandler } from './inbound.js';
import { parseGenericMappings } from './mappings.js';
import { verifyStandardWebhooks } from './signature.js';

/**
 * Any system: its Standard Webhooks are stored, deduplicated and replayable; and, with
 * `mappings`, customers and contracts go out to its REST API (the custom CRM case).
 */
export const genericProvider = {
  provider: Provider.GENERIC,
  credentialKeys: ['headers'],
  defaultRequestsPerSecond: 10,
  webhookSecretKind: 'standard-webhooks-secret',
  connector: genericConnector,
  // Only operations the integration's mappings define (checked when saved).
  autoSync: { Customer: 'customer.upsert', Contract: 'contract.upsert' },
  parseMappings: parseGenericMappings,
  verify: verifyStandardWebhooks,
  parse: parseGenericEvents,
  inbound: genericHandler,
  sandbox: { name: 'crm', create: () => new CrmFake() },
} as const satisfies ProviderModule;
