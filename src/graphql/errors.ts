import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLContext } from './context.js';
import type { Logger } from 'pino';
import { DomainError, ErrorCode, RETRY_AFTER_SECONDS, serviceUnavailable } from '../domain/shared/errors.js';
import { isDatabaseUnavailable } from '../db/db-errors.js';
import { graphqlErrors } from '../observability/metrics.js';

const HTTP_STATUS: Partial<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
};

/** Headers an answer with this code carries (a 503 says when to retry). */
function httpHeaders(code: string): HeaderMap | undefined {
  return code === ErrorCode.SERVICE_UNAVAILABLE ? new HeaderMap([['retry-after', String(RETRY_AFTER_SECONDS)]]) : undefined;
}

/** A domain error as the GraphQL error clients see. */
export function toGraphQLError(err: DomainError): GraphQLError {
  const status = HTTP_STATUS[err.code];
  const headers = httpHeaders(err.code);
  return new GraphQLError(err.message, {
    extensions: {
      code: err.code,
      ...(err.field ? { field: err.field } : {}),
      ...(err.details ?? {}),
      ...(status ? { http: { status, ...(headers ? { headers } : {}) } } : {}),
    },
  });
}

/**
 * The domain error an error stands for: a DomainError as it is; a database that is down,
 * unreachable or too slow (a lost connection, a timeout, a refused connect) as
 * SERVICE_UNAVAILABLE, so clients get a retryable 503 instead of INTERNAL_SERVER_ERROR.
 */
export function asDomainError(error: unknown): DomainError | null {
  if (error instanceof DomainError) return error;
  if (isDatabaseUnavailable(error)) return serviceUnavailable();
  return null;
}

/** Codes that reach clients as they are; every other error is masked. */
const PASSTHROUGH = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** An error no client should see the text of: anything without a code we hand out. */
export function isUnexpected(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (asDomainError(original)) return false;
  const code = (error as GraphQLError)?.extensions?.code;
  return !PASSTHROUGH.has(String(code ?? ''));
}

/**
 * The one place errors become `extensions.code`. Unexpected errors reach the client as
 * INTERNAL_SERVER_ERROR, no stack, no SQL; `errorLoggingPlugin` logs the cause and adds the
 * request's correlation id.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = asDomainError(unwrapResolverError(error));
  let result: GraphQLFormattedError;
  if (original) {
    const { http: _http, ...extensions } = toGraphQLError(original).extensions as Record<string, unknown>;
    result = { message: original.message, path: formatted.path, locations: formatted.locations, extensions };
  } else if (!isUnexpected(error)) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    result = { ...formatted, extensions };
  } else {
    result = { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  }
  graphqlErrors.inc({ code: String(result.extensions?.code) });
  return result;
}

/** Logs unexpected errors with the request's correlation id, and hands the id to the client. */
export function errorLoggingPlugin(log: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            if (isUnexpected(error)) {
              log.error({ err: unwrapResolverError(error), path: error.path, operationName, correlationId: contextValue.correlationId }, 'unexpected error in a GraphQL operation');
            }
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          // Any part of the operation that could not reach the database makes the answer a
          // retryable 503 (an error thrown by a resolver carries no HTTP status of its own).
          const unavailable = (response.body.singleResult.errors ?? []).some((e) => e.extensions?.code === ErrorCode.SERVICE_UNAVAILABLE);
          if (unavailable) {
            response.http.status = 503;
            response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
          }
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === 'INTERNAL_SERVER_ERROR' && contextValue.correlationId) {
              (error as { message: string }).message = `Internal server error (correlation id ${contextValue.correlationId})`;
              (error.extensions as Record<string, unknown>).correlationId = contextValue.correlationId;
            }
          }
        },
      };
    },
  };
}

/**
 * The error for a request whose API key could not be checked because the database is
 * unavailable: HTTP 503 with Retry-After, SERVICE_UNAVAILABLE (not 401: the key may be fine).
 */
export function unavailableForAuthentication(): GraphQLError {
  return toGraphQLError(serviceUnavailable());
}
