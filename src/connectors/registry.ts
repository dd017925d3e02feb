import { Provider } from '../domain/integration/integration.entity.js';
import type { Connector } from './connector.js';
import { hubspotConnector } from './hubspot/hubspot.connector.js';
import { sendgridConnector } from './sendgrid/sendgrid.connector.js';
import { stripeConnector } from './stripe/stripe.connector.js';

/** What the gateway knows about a provider before any connector code runs: data, not a switch. */
export interface ProviderDescriptor {
  provider: Provider;
  /** Keys a credentials object must (and may only) hold. */
  credentialKeys: readonly string[];
  /** The documented request rate to stay under when an integration sets none. */
  defaultRequestsPerSecond: number;
  /** What `webhookSecret` means for this provider. */
  webhookSecretKind: 'hmac-secret' | 'ecdsa-public-key' | 'standard-webhooks-secret';
  /** The outbound operations, or null where the gateway does not call this provider. */
  connector: Connector | null;
  /** Which canonical entity each auto-sync choice enqueues, and with which operation. */
  autoSync: Partial<Record<'Customer' | 'Contract', string>>;
}

export const PROVIDERS: Record<Provider, ProviderDescriptor> = {
  [Provider.STRIPE]: {
    provider: Provider.STRIPE,
    credentialKeys: ['apiKey'],
    // Stripe: about 100 operations/s live and 25/s in a sandbox; most endpoints 25/s.
    defaultRequestsPerSecond: 25,
    webhookSecretKind: 'hmac-secret',
    connector: stripeConnector,
    autoSync: { Customer: 'customer.upsert' },
  },
  [Provider.HUBSPOT]: {
    provider: Provider.HUBSPOT,
    credentialKeys: ['accessToken'],
    // HubSpot private apps: 100 to 190 requests per rolling 10 s depending on tier.
    defaultRequestsPerSecond: 10,
    webhookSecretKind: 'hmac-secret',
    connector: hubspotConnector,
    autoSync: { Customer: 'customer.upsert', Contract: 'contract.upsert' },
  },
  [Provider.SENDGRID]: {
    provider: Provider.SENDGRID,
    credentialKeys: ['apiKey'],
    defaultRequestsPerSecond: 100,
    webhookSecretKind: 'ecdsa-public-key',
    connector: sendgridConnector,
    autoSync: {},
  },
  [Provider.GENERIC]: {
    provider: Provider.GENERIC,
    credentialKeys: ['headers'],
    defaultRequestsPerSecond: 10,
    webhookSecretKind: 'standard-webhooks-secret',
    // Generic providers only send us webhooks (Standard Webhooks); nothing is called out.
    connector: null,
    autoSync: {},
  },
};
