import { startSandbox } from './sandbox.js';

/** `npm run sandbox`: fake providers for local demos and manual testing. */
const base = Number(process.env.SANDBOX_PORT ?? 4010);
const sandbox = await startSandbox({ stripe: base, hubspot: base + 1, sendgrid: base + 2 });
for (const server of [sandbox.stripe, sandbox.hubspot, sandbox.sendgrid]) {
  console.log(`${server.name.padEnd(9)} ${server.url}   (faults: POST ${server.url}/__sandbox/faults, requests: GET ${server.url}/__sandbox/requests)`);
}
const stop = () => sandbox.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
