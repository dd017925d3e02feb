import { FakeServer } from './fake-server.js';
import { HubSpotFake } from './hubspot.fake.js';
import { SendGridFake } from './sendgrid.fake.js';
import { StripeFake } from './stripe.fake.js';

export interface Sandbox {
  stripe: FakeServer<StripeFake>;
  hubspot: FakeServer<HubSpotFake>;
  sendgrid: FakeServer<SendGridFake>;
  stop(): Promise<void>;
}

/** Fake Stripe, HubSpot and SendGrid, each on its own port (0: any free port). */
export async function startSandbox(ports: { stripe?: number; hubspot?: number; sendgrid?: number } = {}, host = '127.0.0.1'): Promise<Sandbox> {
  const stripe = new FakeServer('stripe', new StripeFake());
  const hubspot = new FakeServer('hubspot', new HubSpotFake());
  const sendgrid = new FakeServer('sendgrid', new SendGridFake());
  await stripe.start(ports.stripe ?? 0, host);
  await hubspot.start(ports.hubspot ?? 0, host);
  await sendgrid.start(ports.sendgrid ?? 0, host);
  return {
    stripe,
    hubspot,
    sendgrid,
    stop: async () => {
      await Promise.all([stripe.stop(), hubspot.stop(), sendgrid.stop()]);
    },
  };
}
