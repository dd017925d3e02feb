import { ConfigError, parseEnv } from './config/env.js';
import { startGateway, type Gateway } from './gateway.js';
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
let gateway: Gateway | undefined;
let stopping = false;

/** Stops in order (see Shutdown in the README) and exits with `code`; a second call is ignored. */
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  if (!gateway) process.exit(code);
  // A gateway whose database is gone may not drain: it exits anyway once the drain had its time.
  setTimeout(() => process.exit(code || 1), env!.SHUTDOWN_TIMEOUT_MS * 2 + 10_000).unref();
  gateway.stop().then(
    () => process.exit(code),
    (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

gateway = await startGateway(env, log, {
  // The gateway cannot recover by itself (its embedded PostgreSQL cannot be started again):
  // exit non-zero, so that whatever supervises it (systemd, Kubernetes, Docker) starts it afresh.
  onFatal: (reason) => {
    log.fatal({ reason }, 'stopping: the gateway cannot recover by itself');
    shutdown(1);
  },
}).catch((err: Error) => {
  log.fatal({ err }, 'start-up failed');
  console.error(`Switchboard could not start: ${err.message}`);
  process.exit(1);
});

log.info({ role: env.ROLE, url: gateway.url }, 'Switchboard is up');
// One write: whoever reads the banner off a pipe sees the URL and the key together.
const banner = [`Switchboard (${env.ROLE}) GraphQL: ${gateway.graphqlUrl}`];
if (gateway.generatedAdminKey) banner.push(`Admin API key (shown once, store it now): ${gateway.generatedAdminKey}`);
process.stdout.write(banner.join('\n') + '\n');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    log.info({ signal }, 'stopping: no new requests; draining requests and jobs');
    shutdown(0);
  });
}
