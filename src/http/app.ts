import type { Server } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { ErrorCode } from '../domain/shared/errors.js';
import { operationContext, type GraphQLContext } from '../graphql/context.js';
import { errorLoggingPlugin, formatError, unavailableForAuthentication } from '../graphql/errors.js';
import { isDatabaseUnavailable } from '../db/db-errors.js';
import { depthLimitRule, operationGuardPlugin, statusByMediaTypePlugin } from '../graphql/limits.js';
import { hasScopes, Scope } from '../domain/auth/roles.js';
import { getSchema } from '../graphql/schema.js';
import { correlationIdFrom } from '../observability/context.js';
import { collectMetrics, httpRequestDuration, httpRequests, registry } from '../observability/metrics.js';
import type { Services } from '../services.js';
import type { Principal } from '../domain/auth/api-key.service.js';
import { setActor, withRequestScope } from '../observability/audit.js';
import { graphiqlRedirect, mountConsole } from './console.js';

export const BODY_LIMIT = '1mb';

export interface HttpOptions {
  services: Services;
  log: Logger;
  corsOrigins: string[];
  publicUrl: () => string;
  maxDepth: number;
  maxCost: number;
  maxMutationFields: number;
  graphql: boolean;
  /** Answers within a second, whatever the database does. */
  ready: () => Promise<boolean>;
  /** Why this process cannot recover by itself (empty: it can); /healthz answers 503 when not empty. */
  failing: () => string[];
}

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Correlation id in, out and through every log line; request count and duration by operation. */
const observe: RequestHandler = (req, res, next) => {
  const correlationId = correlationIdFrom(req.headers['x-correlation-id']);
  res.setHeader('X-Correlation-Id', correlationId);
  res.locals.correlationId = correlationId;
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const route = req.route?.path ? String(req.route.path) : req.baseUrl || req.path.split('/').slice(0, 2).join('/') || '/';
    const raw = (res.locals.observed as { operation?: string } | undefined)?.operation;
    const operation = typeof raw === 'string' && OPERATION_NAME.test(raw) ? raw : route === '/graphql' ? 'anonymous' : '';
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    httpRequests.inc({ route, operation, status: String(res.statusCode) });
    httpRequestDuration.observe({ route, operation }, seconds);
  });
  next();
};

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
}

/** Bearer key -> principal; no key or an unknown, revoked or expired one is UNAUTHENTICATED with HTTP 401. */
async function authenticate(services: Services, header: string | undefined, options: { whenUnavailable?: 'recall' } = {}): Promise<Principal> {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw unauthenticated('Send an API key: Authorization: Bearer <key>');
  const { principal, refusal } = await services.apiKeys.check(match[1], options);
  if (!principal) throw unauthenticated(refusal === 'expired' ? 'The API key has expired' : 'The API key is unknown or revoked');
  return principal;
}

/** A key over its requestsPerMinute: RATE_LIMITED, HTTP 429 with Retry-After. */
export function rateLimited(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`This API key is over its rate limit; retry in ${retryAfterSeconds} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      retryAfterSeconds,
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/** Counts the request against the key's requestsPerMinute (shared by every API process). */
export async function admit(services: Services, principal: Principal): Promise<void> {
  if (principal.requestsPerMinute === null) return;
  const wait = await services.keyRateLimiter.take(principal.keyId, principal.requestsPerMinute);
  if (wait !== null) throw rateLimited(wait);
}

/** Counts GraphQL operations still running, so shutdown waits for them even after their client left. */
class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];
  track<T>(work: Promise<T>): Promise<T> {
    this.count++;
    return work.finally(() => {
      if (--this.count === 0) this.waiters.splice(0).forEach((w) => w());
    });
  }
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Prometheus text of this process's registry. */
export async function sendMetrics(res: express.Response): Promise<void> {
  res.setHeader('Content-Type', registry.contentType);
  res.send(await collectMetrics());
}

export interface HttpApp {
  app: Express;
  /** Stops taking requests and resolves once every running operation has finished. */
  drain(): Promise<void>;
}

export async function createHttpApp(httpServer: Server, options: HttpOptions): Promise<HttpApp> {
  const { log, services } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(observe);

  app.get('/healthz', (_req, res) => {
    const failing = options.failing();
    if (failing.length) res.status(503).json({ status: 'failing', reasons: failing });
    else res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await options.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable' });
  });
  // Metrics name every integration: on this port only for a key with metrics:read (Prometheus
  // sends it as a bearer token); METRICS_PORT serves them unauthenticated on a private listener.
  // While the database is down, a key this process checked in the last ten minutes still scrapes:
  // an outage is when the metrics matter most.
  app.get('/metrics', async (req, res) => {
    let principal;
    try {
      principal = await authenticate(services, req.headers.authorization, { whenUnavailable: 'recall' });
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        res.status(503).setHeader('Retry-After', '2').json({ error: 'unavailable', message: 'The API key cannot be checked while the database is unavailable' });
        return;
      }
      if (!(err instanceof GraphQLError)) throw err;
      res.status(401).setHeader('WWW-Authenticate', 'Bearer').json({ error: 'unauthenticated', message: err.message });
      return;
    }
    if (!hasScopes(principal.scopes, [Scope.METRICS_READ])) {
      res.status(403).json({ error: 'forbidden', message: `This API key lacks the scope ${Scope.METRICS_READ}` });
      return;
    }
    await sendMetrics(res);
  });

  let apollo: ApolloServer<GraphQLContext> | null = null;
  const inFlight = new InFlight();
  if (options.graphql) {
    const schema = await getSchema();
    apollo = new ApolloServer<GraphQLContext>({
      schema,
      introspection: true,
      // The gateway owns SIGTERM/SIGINT and stops Apollo in its shutdown order.
      stopOnTerminationSignals: false,
      csrfPrevention: true,
      includeStacktraceInErrorResponses: false,
      validationRules: [depthLimitRule(options.maxDepth)],
      formatError,
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        // Nothing here is HTTP-cacheable; the plugin would otherwise wrap every field resolver.
        ApolloServerPluginCacheControlDisabled(),
        // Apollo's landing page loads from a CDN; browsers are sent to the bundled /graphiql instead.
        ApolloServerPluginLandingPageDisabled(),
        errorLoggingPlugin(log),
        {
          async requestDidStart() {
            return {
              async didResolveOperation({ operationName, contextValue }) {
                if (operationName) contextValue.observed.operation = operationName;
              },
            };
          },
        },
        operationGuardPlugin(schema, { maxCost: options.maxCost, maxMutationFields: options.maxMutationFields }),
        statusByMediaTypePlugin(),
      ],
    });
    await apollo.start();
    const graphqlHandler = expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const principal = await authenticate(services, req.headers.authorization)
          .then(async (p) => {
            await admit(services, p);
            return p;
          })
          .catch((err: unknown) => {
            if (err instanceof GraphQLError) throw err;
            if (isDatabaseUnavailable(err)) throw unavailableForAuthentication();
            log.error({ err, correlationId: res.locals.correlationId }, 'authentication failed unexpectedly');
            throw new GraphQLError(`Internal server error (correlation id ${res.locals.correlationId})`, {
              extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } },
            });
          });
        // Every change this request makes is audited as this key's.
        setActor({ keyId: principal.keyId, name: principal.name, correlationId: String(res.locals.correlationId) });
        const context = operationContext(principal, services, String(res.locals.correlationId), options.publicUrl());
        // The HTTP metrics read the operation name the request ran.
        res.locals.observed = context.observed;
        return context;
      },
    });
    const corsMiddleware = cors({
      origin: options.corsOrigins.includes('*') ? true : options.corsOrigins,
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Correlation-Id', 'Apollo-Require-Preflight'],
      exposedHeaders: ['X-Correlation-Id'],
      maxAge: 600,
    });
    mountConsole(app);
    app.use(
      '/graphql',
      graphiqlRedirect,
      ...(options.corsOrigins.length ? [corsMiddleware] : []),
      express.json({ limit: BODY_LIMIT }),
      (req: express.Request, res: express.Response, next: express.NextFunction) =>
        withRequestScope(() => inFlight.track(Promise.resolve(graphqlHandler(req, res, next)))),
    );
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such endpoint' });
  });
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (status === 413) {
      res.status(413).json({ error: 'payload_too_large', message: `The request body is over the ${BODY_LIMIT} limit` });
    } else if (status >= 400 && status < 500) {
      res.status(status).json({ error: 'bad_request', message: err.type === 'entity.parse.failed' ? 'The body is not valid JSON' : 'Bad request' });
    } else {
      log.error({ err, correlationId: res.locals.correlationId }, 'unhandled HTTP error');
      res.status(500).json({ error: 'internal', message: 'Internal server error', correlationId: res.locals.correlationId });
    }
  };
  app.use(onError);
  return {
    app,
    async drain() {
      // Apollo's drain plugin closes the server, waits for open requests, then cuts what is left.
      if (apollo) await apollo.stop();
      else await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await inFlight.idle();
    },
  };
}
