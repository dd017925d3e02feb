import type { Provider } from '../domain/integration/integration.entity.js';
import type { ProviderHandler } from '../sandbox/fake-server.js';
import type { InboundHandler } from '../webhooks/inbound-handler.js';
import type { EventParser } from '../webhooks/parse.js';
import type { WebhookVerifier } from '../webhooks/signatures.js';
import type { Connector } from './connector.js';
import type { Poller } from '../sync/poller.js';

/**
 * Everything the gateway knows and does about one provider, from its folder
 * (`src/providers/<name>/index.ts`): the data services check against, and the code the
 * provider-neutral parts call. Adding a provider is its folder and one line in `registry.ts`.
 */
export interface ProviderModule {
  provider: Provider;
  /** Keys a credentials object must (and may only) hold. */
  credentialKeys: readonly string[];
  /** The documented request rate to stay under when an integration sets none. */
  defaultRequestsPerSecond: number;
  /** What `webhookSecret` means for this provider. */
  webhookSecretKind: 'hmac-secret' | 'ecdsa-public-key' | 'standard-webhooks-secret' | 'organization-id';
  /**
   * For a provider that does not sign its webhooks (Salesforce Outbound Messages): the webhook URL
   * carries a secret the gateway made. `issue` turns the `webhookSecret` an operator gives into
   * what is stored (validated, BAD_USER_INPUT otherwise, with a fresh token: at creation and at
   * every rotation); `urlQuery` is what the integration's webhookUrl ends in for a stored value.
   */
  webhookUrlSecret?: { issue(input: string): string; urlQuery(stored: string): string };
  /** The body of the 2xx for an accepted webhook, where the provider needs its own (a SOAP Ack); JSON otherwise. */
  acknowledge?: () => { contentType: string; body: string };
  /**
   * For a provider called through configuration rather than code (GENERIC): validates the
   * `mappings` of an integration when saved (BAD_USER_INPUT naming the operation) and returns
   * what is stored. Providers without it take no mappings.
   */
  parseMappings?: (raw: unknown) => Promise<Record<string, unknown>>;
  /** The outbound operations, or null where the gateway does not call this provider. */
  connector: Connector | null;
  /** Which canonical entity each auto-sync choice enqueues, and with which operation. */
  autoSync: Partial<Record<'Customer' | 'Contract', string>>;
  /**
   * The canonical fields each auto-sync operation carries to the provider (`name`, `email`,
   * `title`, `value`, ...): a change to none of them sends nothing, and what the provider
   * acknowledged is remembered per link (echo suppression). Absent: every field counts.
   */
  syncedFields?: Partial<Record<'Customer' | 'Contract', readonly string[]>>;
  /** Its webhook signature scheme. */
  verify: WebhookVerifier;
  /** Its webhook body: the events one request holds. */
  parse: EventParser;
  /** How its events change the canonical model. */
  inbound: InboundHandler;
  /** How sync runs read it (backfill, scheduled polling, rehydrate); none: it is not polled. */
  poller?: Poller;
  /** Its fake for `npm run sandbox` and the tests, under this name (`sandbox.<name>`). */
  sandbox?: { name: string; create(): ProviderHandler };
}
