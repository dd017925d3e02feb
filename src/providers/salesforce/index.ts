import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { salesforceConnector } from './connector.js';
import { parseSalesforceEvents } from './events.js';
import { SalesforceFake } from './fake.js';
import { salesforceHandler } from './inbound.js';
import { salesforcePoller } from './poller.js';
import { issueSalesforceSecret, salesforceUrlQuery, verifySalesforce } from './signature.js';
import { ACK_ENVELOPE } from './soap.js';

/** Salesforce: Accounts and Opportunities out (REST, upsert by external id), Outbound Messages in (SOAP), polled through SOQL. */
export const salesforceProvider = {
  provider: Provider.SALESFORCE,
  credentialKeys: ['clientId', 'clientSecret'],
  // Salesforce meters a rolling 24-hour allocation (Sforce-Limit-Info feeds the rate limit), not a
  // per-second rate; 10/s keeps a burst well under 25 long-running requests at once.
  defaultRequestsPerSecond: 10,
  webhookSecretKind: 'organization-id',
  webhookUrlSecret: { issue: issueSalesforceSecret, urlQuery: salesforceUrlQuery },
  // Salesforce retries a message for 24 hours until its answer holds this Ack.
  acknowledge: () => ({ contentType: 'text/xml; charset=utf-8', body: ACK_ENVELOPE }),
  connector: salesforceConnector,
  autoSync: { Customer: 'customer.upsert', Contract: 'contract.upsert' },
  syncedFields: { Customer: ['name', 'phone'], Contract: ['title', 'status', 'value', 'endDate'] },
  verify: verifySalesforce,
  parse: parseSalesforceEvents,
  inbound: salesforceHandler,
  poller: salesforcePoller,
  sandbox: { name: 'salesforce', create: () => new SalesforceFake() },
} as const satisfies ProviderModule;
