import { startSandbox } from './sandbox.js';

/** `npm run sandbox`: fake providers for local demos and manual testing. */
// SANDBOX_PORT=0: each fake on a free port of its own (the URLs printed say which).
const base = Number(process.env.SANDBOX_PORT ?? 4010);
const port = (offset: number) => (base === 0 ? 0 : base + offset);
const sandbox = await startSandbox({ stripe: port(0), hubspot: port(1), sendgrid: port(2) });
for (const server of [sandbox.stripe, sandbox.hubspot, sandbox.sendgrid]) {
  console.log(`${server.name.padEnd(9)} ${server.url}   (faults: POST ${server.url}/__sandbox/faults, requests: GET ${server.url}/__sandbox/requests)`);
}
const stop = () => sandbox.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
