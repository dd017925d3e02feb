import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { hubspotConnector } from './connector.js';
import { parseHubspotEvents } from './events.js';
import { HubSpotFake } from './fake.js';
import { hubspotHandler } from './inbound.js';
import { hubspotPoller } from './poller.js';
import { verifyHubspot } from './signature.js';

/** HubSpot: contacts and deals out (CRM v3), v3-signed webhook batches in. */
export const hubspotProvider = {
  provider: Provider.HUBSPOT,
  credentialKeys: ['accessToken'],
  // HubSpot private apps: 100 to 190 requests per rolling 10 s depending on tier.
  defaultRequestsPerSecond: 10,
  webhookSecretKind: 'hmac-secret',
  connector: hubspotConnector,
  autoSync: { Customer: 'customer.upsert', Contract: 'contract.upsert' },
  syncedFields: { Customer: ['name', 'email', 'phone'], Contract: ['title', 'status', 'value', 'currency', 'endDate'] },
  verify: verifyHubspot,
  parse: parseHubspotEvents,
  inbound: hubspotHandler,
  poller: hubspotPoller,
  sandbox: { name: 'hubspot', create: () => new HubSpotFake() },
} as const satisfies ProviderModule;
