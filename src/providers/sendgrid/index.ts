import { Provider } from '../../domain/integration/integration.entity.js';
import type { ProviderModule } from '../provider.js';
import { sendgridConnector } from './connector.js';
import { parseSendgridEvents } from './events.js';
import { SendGridFake } from './fake.js';
import { sendgridHandler } from './inbound.js';
import { verifySendgrid } from './signature.js';

/** SendGrid: templated mail out, the signed Event Webhook (delivery reports) in. */
export const sendgridProvider = {
  provider: Provider.SENDGRID,
  credentialKeys: ['apiKey'],
  defaultRequestsPerSecond: 100,
  webhookSecretKind: 'ecdsa-public-key',
  connector: sendgridConnector,
  autoSync: {},
  verify: verifySendgrid,
  parse: parseSendgridEvents,
  inbound: sendgridHandler,
  sandbox: { name: 'sendgrid', create: () => new SendGridFake() },
} as const satisfies ProviderModule;
