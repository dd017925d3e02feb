import { PROVIDER_MODULES } from '../providers/registry.js';
import { startSandbox, type FakeName } from './sandbox.js';

/** `npm run sandbox`: fake providers for local demos and manual testing. */
// SANDBOX_PORT=0: each fake on a free port of its own (the URLs printed say which); otherwise the
// fakes take consecutive ports from SANDBOX_PORT, in the registry's order.
const base = Number(process.env.SANDBOX_PORT ?? 4010);
const names = PROVIDER_MODULES.flatMap((m) => ('sandbox' in m ? [m.sandbox.name as FakeName] : []));
const sandbox = await startSandbox(Object.fromEntries(names.map((name, i) => [name, base === 0 ? 0 : base + i])));
// SANDBOX_SEED=stripe:customers=1000,hubspot:contacts=1000 fills the fakes before they are used.
for (const item of (process.env.SANDBOX_SEED ?? '').split(',').filter(Boolean)) {
  const m = /^(\w+):(\w+)=(\d+)$/.exec(item.trim());
  const server = m ? sandbox.servers.find((s) => s.name === m[1]) : undefined;
  if (!m || !server?.handler.seed) throw new Error(`SANDBOX_SEED: cannot seed "${item}" (expected provider:kind=count, e.g. stripe:customers=1000)`);
  const made = server.handler.seed({ [m[2]]: Number(m[3]) });
  console.log(`seeded ${m[1]}: ${Object.entries(made).map(([k, ids]) => `${ids.length} ${k}`).join(', ')}`);
}
for (const server of sandbox.servers) {
  console.log(`${server.name.padEnd(10)} ${server.url}   (faults: POST ${server.url}/__sandbox/faults, requests: GET ${server.url}/__sandbox/requests)`);
}
const stop = () => sandbox.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
