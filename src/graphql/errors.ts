import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLContext } from './context.js';
import type { Logger } from 'pino';
import { DomainError, ErrorCode } from '../domain/shared/errors.js';
import { graphqlErrors } from '../observability/metrics.js';

const HTTP_STATUS: Partial<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
};

/** A domain error as the GraphQL error clients see. */
export function toGraphQLError(err: DomainError): GraphQLError {
  const status = HTTP_STATUS[err.code];
  return new GraphQLError(err.message, {
    extensions: {
      code: err.code,
      ...(err.field ? { field: err.field } : {}),
      ...(err.details ?? {}),
      ...(status ? { http: { status } } : {}),
    },
  });
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
  if (original instanceof DomainError) return false;
  const code = (error as GraphQLError)?.extensions?.code;
  return !PASSTHROUGH.has(String(code ?? ''));
}

/**
 * The one place errors become `extensions.code`. Unexpected errors reach the client as
 * INTERNAL_SERVER_ERROR, no stack, no SQL; `errorLoggingPlugin` logs the cause and adds the
 * request's correlation id.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  let result: GraphQLFormattedError;
  if (original instanceof DomainError) {
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
