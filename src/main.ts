import { ConfigError, parseEnv } from './config/env.js';
import { startGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

let env;
try {
  env = parseEnv();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

const log = createLogger(env.LOG_LEVEL);
const gateway = await startGateway(env, log).catch((err: Error) => {
  log.fatal({ err }, 'start-up failed');
  console.error(`Switchboard could not start: ${err.message}`);
  process.exit(1);
});

log.info({ role: env.ROLE, url: gateway.url }, 'Switchboard is up');
// One write: whoever reads the banner off a pipe sees the URL and the key together.
const banner = [`Switchboard (${env.ROLE}) GraphQL: ${gateway.graphqlUrl}`];
if (gateway.generatedAdminKey) banner.push(`Admin API key (shown once, store it now): ${gateway.generatedAdminKey}`);
process.stdout.write(banner.join('\n') + '\n');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new requests; draining requests and jobs');
    gateway.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
