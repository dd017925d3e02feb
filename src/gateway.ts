import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { loadEncryptionKey, parsePreviousKeys, verifyEncryptionKey } from './config/encryption-key.js';
import { auditRetentionDays, type Env } from './config/env.js';
import { createDataSource, initialiseDatabase } from './db/data-source.js';
import { boundedReadiness, DatabaseAvailability } from './db/availability.js';
import { superviseEmbedded, type EmbeddedSupervision } from './db/embedded-supervisor.js';
import type { DbTimeouts, GuardedPool } from './db/guarded-client.js';
import { closePrepared } from './db/prepared.js';
import { resolveDataDir, startEmbeddedPostgres, type EmbeddedServer } from './db/embedded-postgres.js';
import { createHttpApp } from './http/app.js';
import { OutboundWorker } from './jobs/outbound-worker.js';
import { SyncRunner } from './sync/sync-runner.js';
import { adoptLegacyOutboundQueue, queueReady, startQueue } from './jobs/queue.js';
import { redactUrl } from './observability/logger.js';
import { configureMasking } from './observability/masking.js';
import { REVOCATION_CHANNEL } from './domain/auth/api-key.service.js';
import { listen } from './pubsub/pg-listener.js';
import { createServices, type Services } from './services.js';
import { alertsFiring, collectMetrics, onScrape, registry, webhookLag, webhookWaiting } from './observability/metrics.js';
import { EventWriter } from './webhooks/event-writer.js';
import { IntegrationCache, RejectionSampler, webhookRoute } from './webhooks/ingress.js';
import { insertLogSql, logParams } from './jobs/log-row.js';
import { ownership } from './webhooks/ownership.js';
import { WebhookProcessor } from './webhooks/processor.js';
import { scheduleOrphanSweep } from './jobs/orphans.js';
import { AlertEvaluator } from './alerts/alert-evaluator.js';
import { scheduleRetention } from './jobs/retention.js';
import { EventRelay } from './pubsub/event-relay.js';
import { attachSubscriptions } from './graphql/subscriptions.js';
import { getSchema } from './graphql/schema.js';

export interface Gateway {
  /** http://host:port of the HTTP server. */
  url: string;
  graphqlUrl: string;
  /** The private metrics listener's URL, when METRICS_PORT is set. */
  metricsUrl: string | null;
  /** Set on the first start against an empty database: the generated admin key, shown once. */
  generatedAdminKey: string | null;
  services: Services;
  db: DataSource;
  boss: PgBoss;
  /** Whether the database answers, as this process sees it (ADR 0010). */
  availability: DatabaseAvailability;
  /** The embedded PostgreSQL, when DATABASE_URL is unset. */
  embedded: EmbeddedServer | null;
  stop(): Promise<void>;
}

/** GET /metrics without authentication, on its own listener (METRICS_HOST, private by default). */
async function listenForMetrics(port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    collectMetrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable'),
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export interface GatewayOptions {
  /**
   * The gateway cannot recover by itself (the embedded PostgreSQL could not be started again):
   * main.ts stops it and exits non-zero, for a supervisor to start it afresh. Without it (tests),
   * /healthz reports the failure and the process goes on.
   */
  onFatal?: (reason: string) => void;
}

/**
 * Start order: database -> migrations -> queue -> admin key -> workers -> HTTP.
 * Stop order is the reverse; each step waits for what it started to drain.
 */
export async function startGateway(env: Env, log: Logger, options: GatewayOptions = {}): Promise<Gateway> {
  const cleanups: Array<{ step: string; run: () => Promise<void> }> = [];
  const onStop = (step: string, run: () => Promise<void>) => cleanups.push({ step, run });
  const runCleanups = async () => {
    let failed = false;
    for (const { step, run } of cleanups.splice(0).reverse()) {
      log.debug({ step }, 'stopping');
      await run().catch((err) => {
        failed = true;
        log.error({ err, step }, 'error during shutdown');
      });
    }
    if (failed) throw new Error('shutdown finished with errors (see the log)');
  };
  try {
    let databaseUrl = env.DATABASE_URL;
    const dataDir = databaseUrl ? (env.DATA_DIR ?? '.data') : resolveDataDir(env.DATA_DIR, log);
    let embedded: EmbeddedServer | null = null;
    if (!databaseUrl) {
      const server = await startEmbeddedPostgres(dataDir, log);
      embedded = server;
      onStop('embedded PostgreSQL', () => server.stop());
      databaseUrl = embedded.url;
      log.info({ dataDir }, 'embedded PostgreSQL started');
    }
    log.info({ database: redactUrl(databaseUrl) }, 'connecting to PostgreSQL');

    // Time limits per role and the availability monitor every connection reports to (ADR 0010).
    const timeouts: DbTimeouts = {
      requestMs: env.DB_REQUEST_TIMEOUT_MS,
      workerStatementMs: env.DB_WORKER_STATEMENT_TIMEOUT_MS,
      migrationStatementMs: env.DB_MIGRATION_TIMEOUT_MS,
    };
    const availability = new DatabaseAvailability(databaseUrl, timeouts, log);
    onStop('availability monitor', async () => availability.close());
    let supervision: EmbeddedSupervision | null = null;
    if (embedded) {
      const watched = superviseEmbedded(embedded, availability, log, (reason) => options.onFatal?.(reason));
      supervision = watched;
      // Before the server is stopped on purpose: a stop is not an exit to recover from.
      onStop('embedded PostgreSQL supervision', async () => watched.stop());
    }
    const guard = { timeouts, monitor: availability };

    const encryptionKey = await loadEncryptionKey(env.ENCRYPTION_KEY, dataDir, log);
    configureMasking(encryptionKey);
    const db = createDataSource(databaseUrl, log, env.DB_POOL_SIZE, { ...guard, role: env.ROLE === 'worker' ? 'worker' : 'api' });
    const applied = await initialiseDatabase(db);
    onStop('database pool', async () => {
      await closePrepared(db);
      await db.destroy();
    });
    if (applied.length) log.info({ applied }, 'migrations applied');
    const previousKeys = parsePreviousKeys(env.ENCRYPTION_KEY_PREVIOUS);
    await verifyEncryptionKey(db, encryptionKey, previousKeys);

    const runsWorkers = env.ROLE !== 'api';
    const boss = await startQueue(databaseUrl, log, {
      supervise: runsWorkers,
      heartbeatSeconds: env.QUEUE_HEARTBEAT_SECONDS,
      monitorIntervalSeconds: env.QUEUE_MONITOR_INTERVAL_SECONDS,
      guard,
    });
    onStop('job queue', () => boss.stop({ graceful: true, timeout: env.SHUTDOWN_TIMEOUT_MS, close: true }));
    // Entries an earlier version left in its outbound queue move to the current one (ADR 0005).
    await adoptLegacyOutboundQueue(db, boss, log);

    const services = createServices(
      db,
      encryptionKey,
      boss,
      { retryLimit: env.WEBHOOK_RETRY_LIMIT, retryDelay: env.WEBHOOK_RETRY_DELAY_SECONDS },
      { allowLoopback: env.OUTBOUND_ALLOW_LOOPBACK, maxResponseBytes: env.OUTBOUND_MAX_RESPONSE_BYTES },
      previousKeys,
      undefined,
      ownership(env.FIELD_OWNERSHIP),
    );
    const generatedAdminKey = await services.apiKeys.ensureAdminKey(env.ADMIN_API_KEY);

    // Every process forwards its committed changes to the others; API processes listen.
    const relay = new EventRelay(db, log);
    relay.forward(services.events);
    onStop('event relay', () => relay.close());
    if (env.ROLE !== 'worker') await relay.listen(databaseUrl, undefined, guard);
    let subscriptions: ReturnType<typeof attachSubscriptions> | null = null;

    const integrationCache = new IntegrationCache(services.integrations);
    services.integrations.onChange((id) => integrationCache.forget(id));
    if (env.ROLE !== 'worker') {
      // API keys are cached only while revocations can reach this process; integration changes
      // (a secret rotated with no grace) drop the ingress's copy at once.
      const revocations = await listen(
        databaseUrl,
        REVOCATION_CHANNEL,
        (payload) => {
          if (payload.startsWith('integration:')) {
            integrationCache.forget(payload.slice('integration:'.length));
            return;
          }
          services.apiKeys.cache.forgetKey(payload);
          subscriptions?.closeKey(payload);
        },
        (up) => services.apiKeys.cache.setEnabled(up),
        log,
        guard,
      );
      onStop('revocation listener', () => revocations.close());
      // Keys' lastUsedAt: one statement a period for every key used, never one per request.
      const flushUsage = () => services.apiKeys.flushUsage().catch((err) => log.warn({ err }, 'could not record API key use'));
      const usageTimer = setInterval(flushUsage, env.API_KEY_USAGE_FLUSH_SECONDS * 1000);
      usageTimer.unref();
      onStop('API key use', async () => {
        clearInterval(usageTimer);
        await flushUsage();
      });
    }

    if (runsWorkers) {
      const worker = new OutboundWorker(db, boss, services, services.events, log, {
        concurrency: env.WORKER_CONCURRENCY,
        circuitFailureThreshold: env.CIRCUIT_FAILURE_THRESHOLD,
        circuitCooldownMs: env.CIRCUIT_COOLDOWN_MS,
        heartbeatSeconds: env.QUEUE_HEARTBEAT_SECONDS,
        slowFetchMs: env.QUEUE_SLOW_FETCH_MS,
      });
      await worker.start();
      // Before the queue stops: calls in flight finish (or are aborted after the timeout).
      onStop('outbound worker', () => worker.stop(env.SHUTDOWN_TIMEOUT_MS));

      const processor = new WebhookProcessor(db, boss, services, log, {
        ownership: ownership(env.FIELD_OWNERSHIP),
        retryLimit: env.WEBHOOK_RETRY_LIMIT,
        concurrency: env.WEBHOOK_CONCURRENCY,
      });
      await processor.start();
      onStop('webhook processor', () => processor.stop());

      // Backfill and polling: runs stopped here go back to the queue and resume from their last page.
      const syncRunner = new SyncRunner(db, boss, services, log, {
        ownership: ownership(env.FIELD_OWNERSHIP),
        concurrency: env.SYNC_CONCURRENCY,
        heartbeatSeconds: env.QUEUE_HEARTBEAT_SECONDS,
        scheduleEveryMs: env.SYNC_SCHEDULE_CHECK_MS,
      });
      await syncRunner.start();
      onStop('sync runner', () => syncRunner.stop());

      const stopRetention = await scheduleRetention(db, boss, log, { operational: env.RETENTION_DAYS, audit: auditRetentionDays(env) });
      onStop('retention sweep', stopRetention);
      const stopOrphanSweep = await scheduleOrphanSweep(services.jobs, services.webhooks, boss, log);
      onStop('orphan sweep', stopOrphanSweep);

      // Alert rules: every worker process runs the loop, one evaluates at a time (src/alerts, ADR 0016).
      const alertEvaluator = new AlertEvaluator(db, services.jobs, services.events, log, { intervalMs: env.ALERT_EVAL_INTERVAL_MS, fromEmail: env.ALERT_EMAIL_FROM });
      alertEvaluator.start();
      onStop('alert evaluator', () => alertEvaluator.stop());
    }

    // Webhook ingress (API roles): group-committed event writes; lag gauges for /metrics.
    const webhookWriter = env.ROLE === 'worker' ? null : new EventWriter(databaseUrl, boss, log, { maxBatch: 500, maxConcurrentCommits: env.WEBHOOK_COMMIT_CONCURRENCY, ...guard }, (ids) => services.webhooks.jobsFor(ids));
    const stopLagGauge = onScrape(async () => {
      for (const r of await services.webhooks.lag()) {
        webhookLag.set({ integration: r.integrationId }, r.oldestSeconds);
        webhookWaiting.set({ integration: r.integrationId }, r.waiting);
      }
    });
    onStop('webhook gauges', async () => stopLagGauge());
    const stopAlertGauge = onScrape(async () => {
      for (const [kind, n] of Object.entries(await services.alerts.firingByKind())) alertsFiring.set({ kind }, n);
    });
    onStop('alert gauge', async () => stopAlertGauge());

    const httpServer: Server = createServer();
    let publicUrl = env.PUBLIC_URL?.replace(/\/$/, '') ?? '';
    const { app, drain } = await createHttpApp(httpServer, {
      services,
      log,
      corsOrigins: env.CORS_ORIGINS,
      publicUrl: () => publicUrl,
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxCost: env.GRAPHQL_MAX_COST,
      maxMutationFields: env.GRAPHQL_MAX_MUTATION_FIELDS,
      graphql: env.ROLE !== 'worker',
      ready: () =>
        boundedReadiness(availability, async (budgetMs) => {
          await (db.driver as unknown as { master: GuardedPool }).master.ping(budgetMs);
          return queueReady(boss);
        }),
      failing: () => supervision?.failing() ?? [],
    });
    // The webhook ingress answers POST /webhooks/:id ahead of Express (API roles only).
    const webhooks = webhookWriter
      ? webhookRoute({
          writer: webhookWriter,
          events: services.events,
          cache: integrationCache,
          rejections: new RejectionSampler(),
          recordRejection: async (row) => {
            await db.query(insertLogSql(1), logParams(row));
          },
          log,
          publicUrl: () => publicUrl,
          requestTimeoutMs: env.DB_REQUEST_TIMEOUT_MS,
        })
      : () => false;
    httpServer.on('request', (req, res) => {
      if (!webhooks(req, res)) app(req, res);
    });
    if (env.ROLE !== 'worker') {
      subscriptions = attachSubscriptions(httpServer, {
        schema: await getSchema(),
        services,
        relay,
        log,
        publicUrl: () => publicUrl,
        guard: { maxDepth: env.GRAPHQL_MAX_DEPTH, maxCost: env.GRAPHQL_MAX_COST, maxMutationFields: env.GRAPHQL_MAX_MUTATION_FIELDS },
        requestTimeoutMs: env.DB_REQUEST_TIMEOUT_MS,
        limits: {
          maxConnectionsPerKey: env.WS_MAX_CONNECTIONS_PER_KEY,
          maxSubscriptionsPerKey: env.WS_MAX_SUBSCRIPTIONS_PER_KEY,
          maxBufferedBytes: env.WS_MAX_BUFFERED_BYTES,
          maxQueuedEvents: env.WS_MAX_QUEUED_EVENTS,
          keepAliveMs: env.WS_KEEPALIVE_MS,
        },
      });
    }
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(env.PORT, env.HOST, () => resolve());
    });
    onStop('HTTP', async () => {
      // Subscribers are told to go (1001) first: open sockets would hold the server open.
      await subscriptions?.close();
      await drain();
      // Requests already answered were committed; anything still in a batch finishes first.
      await webhookWriter?.idle();
      await webhookWriter?.close();
    });
    let metricsUrl: string | null = null;
    if (env.METRICS_PORT !== undefined) {
      const metricsServer = await listenForMetrics(env.METRICS_PORT, env.METRICS_HOST);
      onStop('metrics listener', () => new Promise<void>((resolve) => metricsServer.close(() => resolve())));
      metricsUrl = `http://${env.METRICS_HOST.includes(':') ? `[${env.METRICS_HOST}]` : env.METRICS_HOST}:${(metricsServer.address() as AddressInfo).port}/metrics`;
      log.info({ metricsUrl }, 'metrics listener up (unauthenticated: keep it private)');
    }
    const { port } = httpServer.address() as AddressInfo;
    const host = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST;
    const url = `http://${host}:${port}`;
    publicUrl ||= url;

    return {
      url,
      graphqlUrl: `${url}/graphql`,
      metricsUrl,
      generatedAdminKey,
      services,
      db,
      boss,
      availability,
      embedded,
      stop: runCleanups,
    };
  } catch (err) {
    await runCleanups().catch(() => undefined);
    throw err;
  }
}
