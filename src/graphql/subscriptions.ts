import type { Server } from 'node:http';
import { createSourceEventStream, execute, getOperationAST, GraphQLError, Kind, parse, print, specifiedRules, validate, type ExecutionArgs, type ExecutionResult, type FormattedExecutionResult, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../domain/auth/api-key.service.js';
import { hasScopes, type Scope } from '../domain/auth/roles.js';
import { forbidden, serviceUnavailable } from '../domain/shared/errors.js';
import { EventsInterrupted, type Delivered, type EventRelay, type RelayTopic } from '../pubsub/event-relay.js';
import { deadlineIn, withinDeadline } from '../db/deadline.js';
import { isDatabaseUnavailable } from '../db/db-errors.js';
import type { Services } from '../services.js';
import { operationContext, type GraphQLContext } from './context.js';
import { subscriptionEvents, wsClosed, wsConnections } from '../observability/metrics.js';
import { formatError } from './errors.js';
import { depthLimitRule } from './limits.js';
import { guardOperation, requestError, type GuardLimits } from './operation-guard.js';
import { createLoaders } from './loaders.js';
import { WriteCoalescer } from './write-coalescer.js';

/** WebSocket close codes this server uses (graphql-ws's own: 4400 bad message, 4403 forbidden, …). */
export const CLOSE = {
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  TOO_MANY: 4429,
  /** The client did not read fast enough: its undelivered events passed the limit. */
  SLOW_CONSUMER: 4413,
  GOING_AWAY: 1001,
  /** The database is unavailable: the key could not be checked; connect again shortly (RFC 6455 "Try Again Later"). */
  TRY_AGAIN_LATER: 1013,
} as const;

export interface SubscriptionLimits {
  /** Open sockets per API key, per process. */
  maxConnectionsPerKey: number;
  /** Running operations per API key, per process. */
  maxSubscriptionsPerKey: number;
  /** Bytes the socket may hold unsent, and events a subscription may hold undelivered. */
  maxBufferedBytes: number;
  maxQueuedEvents: number;
  keepAliveMs: number;
}

/** What a subscription's context carries besides the usual request context. */
export interface SubscriptionExtra {
  socket: WebSocket;
  relay: EventRelay;
  limits: SubscriptionLimits;
}

/**
 * A subscription's event stream: events are queued in order (filters may be async, so they are
 * chained), and a consumer that falls behind (socket buffer or queue over the limit) has its
 * connection closed with 4413 rather than slowing anyone else.
 */
class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private done = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly extra: SubscriptionExtra,
    subscribe: (push: (value: unknown) => void) => () => void,
    private readonly accept: (value: any) => Promise<T | null> | T | null,
  ) {
    this.unsubscribe = subscribe((value) => {
      if (this.done) return;
      // Not an event: the notice that events are interrupted (sharedSubscribe answers it with an error).
      if (value instanceof EventsInterrupted) return this.push(value as T);
      // Fast path: nothing pending and a synchronous filter: no promise hop per delivery.
      if (this.busy === 0) {
        const out = this.safeAccept(value);
        if (!(out instanceof Promise)) {
          if (out !== null) this.push(out);
          return;
        }
        this.follow(out);
        return;
      }
      this.chain = this.chain.then(() => (this.done ? null : this.safeAccept(value))).then((out) => {
        if (out !== null && !this.done) this.push(out as T);
      });
      this.track(this.chain);
    });
  }

  /** Async filters: later events wait behind this one, so the order holds. */
  private busy = 0;

  private follow(out: Promise<T | null>): void {
    this.chain = out.then((v) => {
      if (v !== null && !this.done) this.push(v);
    });
    this.track(this.chain);
  }

  private track(p: Promise<void>): void {
    this.busy++;
    void p.finally(() => this.busy--);
  }

  private safeAccept(value: unknown): Promise<T | null> | T | null {
    try {
      const out = this.accept(value);
      return out instanceof Promise ? out.catch(() => null) : out;
    } catch {
      return null;
    }
  }

  private push(value: T): void {
    const { socket, limits } = this.extra;
    if (socket.bufferedAmount > limits.maxBufferedBytes || this.queue.length >= limits.maxQueuedEvents) {
      if (socket.readyState === socket.OPEN) wsClosed.inc({ reason: 'slow_consumer' });
      socket.close(CLOSE.SLOW_CONSUMER, 'Slow consumer: undelivered events passed the limit; reconnect and re-query');
      void this.return();
      return;
    }
    subscriptionEvents.inc();
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value, done: false });
    } else this.queue.push(value);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.unsubscribe();
      this.queue.length = 0;
      this.waiting?.({ value: undefined, done: true });
      this.waiting = null;
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

/**
 * The stream of one relay topic for one subscription. `accept` filters (and may load the current
 * record); it runs on the server for every event, in order.
 */
export function streamOf<K extends RelayTopic, T>(
  context: GraphQLContext,
  topic: K,
  scope: Scope,
  accept: (value: Delivered[K]) => Promise<T | null> | T | null,
): AsyncIterableIterator<T> {
  const extra = context.subscription;
  if (!extra) throw new GraphQLError('Subscriptions run over WebSocket (graphql-transport-ws) on /graphql', { extensions: { code: 'BAD_REQUEST' } });
  if (!hasScopes(context.principal.scopes, [scope])) throw forbidden(`This API key lacks the scope ${scope}`);
  // Each event resolves with fresh loaders (nothing cached from an earlier event), made only if
  // something reads them: most deliveries share an execution and never do.
  let loaders: ReturnType<typeof createLoaders> | null = null;
  Object.defineProperty(context, 'loaders', { configurable: true, enumerable: true, get: () => (loaders ??= createLoaders(context.services)) });
  return new EventStream<T>(extra, (push) => extra.relay.subscribe(topic, push), (value) => {
    loaders = null;
    return accept(value as Delivered[K]);
  });
}

/**
 * Results shared per event: subscribers of one process that run the same document with the same
 * variables under the same scopes and grants get the same result for the same event, so it is
 * executed once per event, not once per subscriber. The relay hands every subscription the same
 * event object (and records loaded for it are shared too), which keys the cache.
 */
const sharedResults = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();

function sharingKey(args: ExecutionArgs): string {
  const context = args.contextValue as GraphQLContext;
  const principal = context.principal;
  return [
    print(args.document),
    args.operationName ?? '',
    JSON.stringify(args.variableValues ?? {}),
    principal.role,
    [...principal.scopes].sort().join(','),
    principal.customerIds ? [...principal.customerIds].sort().join(',') : '*',
  ].join('|');
}

const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };
const step = (result: ExecutionResult): IteratorResult<ExecutionResult> => ({ value: result, done: false });

/** graphql's subscribe, with the per-event execution shared (see sharedResults). */
async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const events = source as AsyncIterableIterator<unknown>;
  const key = sharingKey(args);
  const root = getOperationAST(args.document, args.operationName)?.selectionSet.selections[0];
  const rootField = root?.kind === Kind.FIELD ? (root.alias ?? root.name).value : 'subscription';
  // A synchronous execution (the usual case) is shared as a value, so a delivery costs no extra
  // promise hop; an asynchronous one is shared as its promise.
  const run = (payload: unknown): ExecutionResult | Promise<ExecutionResult> => {
    if (typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
    if (payload instanceof EventsInterrupted) return { data: null, errors: [new GraphQLError(payload.message, { path: [rootField], originalError: serviceUnavailable(payload.message) })] };
    let byKey = sharedResults.get(payload);
    if (!byKey) sharedResults.set(payload, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) {
      result = execute({ ...args, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
      byKey.set(key, result);
    }
    return result;
  };
  const results: AsyncIterableIterator<ExecutionResult> = {
    next(): Promise<IteratorResult<ExecutionResult>> {
      return events.next().then((event) => {
        if (event.done) return DONE;
        const result = run(event.value);
        return result instanceof Promise ? result.then(step) : step(result);
      });
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      await events.return?.();
      return DONE;
    },
    [Symbol.asyncIterator]: () => results,
  };
  return results;
}

const formattedResults = new WeakMap<ExecutionResult, FormattedExecutionResult>();

/**
 * The payload sent for a result, made once per result object, so once per event for a shared
 * execution. Errors read as they do over HTTP (extensions.code, no stack or SQL). The data is
 * copied into plain objects: graphql-js builds it from prototype-less objects, which V8 keeps in
 * dictionary mode and serialises about twice as slowly, and graphql-ws serialises the payload
 * once per subscriber.
 */
export function formatSubscriptionResult(result: ExecutionResult): FormattedExecutionResult {
  let out = formattedResults.get(result);
  if (!out) {
    const { errors, ...rest } = result;
    out = JSON.parse(JSON.stringify(rest)) as FormattedExecutionResult;
    if (errors?.length) out = { ...out, errors: errors.map((e) => formatError(e.toJSON(), e)) };
    formattedResults.set(result, out);
  }
  return out;
}

/** The query limits subscriptions share with HTTP. */
export interface SubscriptionGuard extends GuardLimits {
  maxDepth: number;
}

/**
 * A subscribe message's operation, parsed and validated (the depth limit included), refused unless
 * it is a subscription, then put through guardOperation like an HTTP request. Returns the
 * execution arguments, or the errors to send (graphql-ws then ends that operation only).
 */
export function checkSubscription(
  schema: GraphQLSchema,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  principal: Principal,
  guard: SubscriptionGuard,
): ExecutionArgs | readonly GraphQLError[] {
  let document;
  try {
    document = parse(payload.query, { maxTokens: 10_000 });
  } catch (err) {
    return [err instanceof GraphQLError ? new GraphQLError(err.message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } }) : requestError('The query could not be parsed', 'GRAPHQL_PARSE_FAILED')];
  }
  const invalid = validate(schema, document, [...specifiedRules, depthLimitRule(guard.maxDepth)]);
  if (invalid.length) return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (!operation) return [requestError('Unable to identify the operation: name one with operationName', 'GRAPHQL_VALIDATION_FAILED')];
  if (operation.operation !== 'subscription') {
    return [
      requestError(`Only subscriptions run over this WebSocket; send ${operation.operation === 'mutation' ? 'mutations' : 'queries'} to POST /graphql`, 'BAD_REQUEST', {
        operation: operation.operation,
      }),
    ];
  }
  const variables = payload.variables ?? {};
  const refusal = guardOperation(schema, document, operation, variables, principal.scopes, guard);
  if (refusal) return [refusal];
  return { schema, document, operationName: payload.operationName ?? undefined, variableValues: variables };
}

function keyFrom(params: Record<string, unknown> | undefined): string | null {
  const raw = params?.authorization ?? params?.Authorization ?? params?.apiKey;
  if (typeof raw !== 'string') return null;
  const match = /^(?:Bearer\s+)?(\S+)\s*$/i.exec(raw);
  return match ? match[1] : null;
}

type ConnectionExtra = {
  principal?: Principal;
  operations?: Set<string>;
};

/**
 * graphql-ws (graphql-transport-ws protocol) on `/graphql` of the HTTP server. The API key comes
 * in `connection_init` (`{ "authorization": "Bearer <key>" }`): none closes the socket with 4401,
 * an unknown or revoked one with 4403, and revoking a key closes its open sockets with 4403.
 */
export function attachSubscriptions(
  httpServer: Server,
  options: {
    schema: GraphQLSchema;
    services: Services;
    relay: EventRelay;
    log: Logger;
    limits: SubscriptionLimits;
    publicUrl: () => string;
    guard: SubscriptionGuard;
    requestTimeoutMs: number;
  },
) {
  const { services, log, limits } = options;
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: 1024 * 1024 });
  // Registered before graphql-ws's own handler, so every frame it sends goes through it.
  const coalescer = new WriteCoalescer();
  wss.on('connection', (socket) => coalescer.attach(socket));
  const byKey = new Map<string, Set<WebSocket>>();
  const operationsByKey = new Map<string, number>();

  const disposable = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: options.schema,
      subscribe: sharedSubscribe,
      async onConnect(ctx) {
        const socket = ctx.extra.socket;
        const key = keyFrom(ctx.connectionParams);
        if (!key) {
          wsClosed.inc({ reason: 'unauthorized' });
          socket.close(CLOSE.UNAUTHORIZED, 'Unauthorized: send connection_init with { "authorization": "Bearer <key>" }');
          return false;
        }
        let unavailable = false;
        const checked = await withinDeadline(services.apiKeys.check(key), deadlineIn(options.requestTimeoutMs)).catch((err: unknown) => {
          unavailable = isDatabaseUnavailable(err);
          if (!unavailable) log.error({ err }, 'subscription authentication failed unexpectedly');
          return { principal: null, refusal: 'unknown' as const };
        });
        // The client may have gone while the key was checked: onClose has already run for it.
        if (socket.readyState !== socket.OPEN) return false;
        if (unavailable) {
          socket.close(CLOSE.TRY_AGAIN_LATER, 'Service unavailable: the database did not answer; connect again shortly');
          return false;
        }
        const principal = checked.principal;
        if (!principal) {
          wsClosed.inc({ reason: 'forbidden' });
          socket.close(CLOSE.FORBIDDEN, checked.refusal === 'expired' ? 'Forbidden: the API key has expired' : 'Forbidden: the API key is unknown or revoked');
          return false;
        }
        if (principal.requestsPerMinute !== null && (await services.keyRateLimiter.take(principal.keyId, principal.requestsPerMinute)) !== null) {
          wsClosed.inc({ reason: 'rate_limited' });
          socket.close(CLOSE.TOO_MANY, 'Too many requests: this API key is over its rate limit');
          return false;
        }
        const sockets = byKey.get(principal.keyId) ?? new Set<WebSocket>();
        if (sockets.size >= limits.maxConnectionsPerKey) {
          wsClosed.inc({ reason: 'too_many' });
          socket.close(CLOSE.TOO_MANY, `Too many connections for this API key (at most ${limits.maxConnectionsPerKey})`);
          return false;
        }
        sockets.add(socket);
        byKey.set(principal.keyId, sockets);
        wsConnections.inc();
        ctx.extra.principal = principal;
        ctx.extra.operations = new Set();
        // A key that expires while its socket is open loses the socket then.
        // (setTimeout holds at most 24.8 days; a socket is not expected to live that long.)
        if (principal.expiresAt !== null && principal.expiresAt - Date.now() < 2 ** 31 - 1) {
          const timer = setTimeout(() => {
            wsClosed.inc({ reason: 'expired' });
            socket.close(CLOSE.FORBIDDEN, 'Forbidden: the API key has expired');
          }, principal.expiresAt - Date.now());
          timer.unref();
          socket.once('close', () => clearTimeout(timer));
        }
        return true;
      },
      // Only subscriptions run here, under the same depth, cost and type-scope rules as HTTP:
      // queries and mutations go to POST /graphql, where every limit applies.
      async onSubscribe(ctx, id, payload) {
        const principal = ctx.extra.principal!;
        const checked = checkSubscription(options.schema, payload, principal, options.guard);
        if (!('document' in checked)) return checked;
        if (principal.requestsPerMinute !== null) {
          const wait = await services.keyRateLimiter.take(principal.keyId, principal.requestsPerMinute);
          if (wait !== null) {
            return [new GraphQLError(`This API key is over its rate limit; retry in ${wait} s`, { extensions: { code: 'RATE_LIMITED', retryAfterSeconds: wait } })];
          }
        }
        const running = operationsByKey.get(principal.keyId) ?? 0;
        if (running >= limits.maxSubscriptionsPerKey) {
          return [new GraphQLError(`Too many subscriptions for this API key (at most ${limits.maxSubscriptionsPerKey})`, { extensions: { code: 'RATE_LIMITED' } })];
        }
        operationsByKey.set(principal.keyId, running + 1);
        ctx.extra.operations!.add(id);
        return checked;
      },
      onComplete(ctx, id) {
        const principal = ctx.extra.principal;
        if (principal && ctx.extra.operations?.delete(id)) operationsByKey.set(principal.keyId, Math.max(0, (operationsByKey.get(principal.keyId) ?? 1) - 1));
      },
      onClose(ctx) {
        const principal = ctx.extra.principal;
        if (!principal) return;
        if (byKey.get(principal.keyId)?.delete(ctx.extra.socket)) wsConnections.dec();
        const left = (operationsByKey.get(principal.keyId) ?? 0) - (ctx.extra.operations?.size ?? 0);
        operationsByKey.set(principal.keyId, Math.max(0, left));
        ctx.extra.operations?.clear();
      },
      // Errors read as they do over HTTP: extensions.code, no stack or SQL. An operation that
      // ends in an error (invalid document, say) gets no onComplete: release its slot here.
      onError(ctx, id, _payload, errors) {
        const principal = ctx.extra.principal;
        if (principal && ctx.extra.operations?.delete(id)) operationsByKey.set(principal.keyId, Math.max(0, (operationsByKey.get(principal.keyId) ?? 1) - 1));
        return errors.map((e) => formatError(e.toJSON(), e));
      },
      // A shared result is formatted once per event, not once per subscriber (see formatSubscriptionResult).
      onNext(_ctx, _id, _payload, _args, result) {
        return formatSubscriptionResult(result);
      },
      context(ctx): GraphQLContext {
        const principal = ctx.extra.principal!;
        return operationContext(principal, services, `ws-${principal.keyId}`, options.publicUrl(), { socket: ctx.extra.socket, relay: options.relay, limits });
      },
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    /** A revoked key's open sockets close at once. */
    closeKey(keyId: string): void {
      for (const socket of byKey.get(keyId) ?? []) {
        wsClosed.inc({ reason: 'revoked' });
        socket.close(CLOSE.FORBIDDEN, 'Forbidden: the API key was revoked');
      }
    },
    get connections(): number {
      return wss.clients.size;
    },
    /** Shutdown: tell every client to reconnect elsewhere, then stop. */
    async close(): Promise<void> {
      for (const socket of wss.clients) socket.close(CLOSE.GOING_AWAY, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
