import type { Provider } from '../domain/integration/integration.entity.js';
import { genericProvider } from './generic/index.js';
import { hubspotProvider } from './hubspot/index.js';
import type { ProviderModule } from './provider.js';
import { salesforceProvider } from './salesforce/index.js';
import { sendgridProvider } from './sendgrid/index.js';
import { stripeProvider } from './stripe/index.js';

/**
 * The provider list, as data: each entry is one folder under `src/providers/` (see
 * `ProviderModule`). Services, the ingress, the processor and the sandbox read it; none of them
 * switches on a provider. The order is the sandbox's port order.
 */
export const PROVIDER_MODULES = [stripeProvider, hubspotProvider, sendgridProvider, genericProvider, salesforceProvider] as const;

export const PROVIDERS = Object.fromEntries(PROVIDER_MODULES.map((m) => [m.provider, m])) as unknown as Record<Provider, ProviderModule>;
