import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { stripeConnector } from './connector.js';
import { parseStripeEvents } from './events.js';
import { StripeFake } from './fake.js';
import { stripeHandler } from './inbound.js';
import { stripePoller } from './poller.js';
import { verifyStripe } from './signature.js';

/** Stripe: customers and invoices out (form-encoded REST), signed events in. */
export const stripeProvider = {
  provider: Provider.STRIPE,
  credentialKeys: ['apiKey'],
  // Stripe: about 100 operations/s live and 25/s in a sandbox; most endpoints 25/s.
  defaultRequestsPerSecond: 25,
  webhookSecretKind: 'hmac-secret',
  connector: stripeConnector,
  autoSync: { Customer: 'customer.upsert' },
  syncedFields: { Customer: ['name', 'email', 'phone'] },
  verify: verifyStripe,
  parse: parseStripeEvents,
  inbound: stripeHandler,
  poller: stripePoller,
  sandbox: { name: 'stripe', create: () => new StripeFake() },
} as const satisfies ProviderModule;
