import { PROVIDER_MODULES } from '../providers/registry.js';
import { FakeServer } from './fake-server.js';

/** The providers that have a fake, by their sandbox name. */
type WithFake = Extract<(typeof PROVIDER_MODULES)[number], { sandbox: { name: string } }>;
export type FakeName = WithFake['sandbox']['name'];

/** Each provider's fake server (`sandbox.stripe`, `sandbox.hubspot`, ...), typed by its handler. */
export type Sandbox = { [M in WithFake as M['sandbox']['name']]: FakeServer<ReturnType<M['sandbox']['create']>> } & {
  /** Every fake, in the registry's order. */
  servers: FakeServer[];
  stop(): Promise<void>;
};

/** Every provider's fake (from the registry), each on its own port (0 or unset: any free port). */
export async function startSandbox(ports: Partial<Record<FakeName, number>> = {}, host = '127.0.0.1'): Promise<Sandbox> {
  const fakes = PROVIDER_MODULES.flatMap((m) => ('sandbox' in m ? [m.sandbox] : []));
  const servers: FakeServer[] = [];
  for (const fake of fakes) {
    const server = new FakeServer(fake.name, fake.create());
    await server.start(ports[fake.name as FakeName] ?? 0, host);
    servers.push(server);
  }
  return Object.assign(Object.fromEntries(servers.map((s) => [s.name, s])), {
    servers,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  }) as unknown as Sandbox;
}
