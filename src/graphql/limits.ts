import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import depthLimit from 'graphql-depth-limit';
import Negotiator from 'negotiator';
import type { GraphQLContext } from './context.js';
import { guardOperation, type GuardLimits } from './operation-guard.js';

/** Introspection queries are deep by nature; they are allowed for every authenticated key. */
export function depthLimitRule(maxDepth: number) {
  return depthLimit(maxDepth, { ignore: [/^__/] });
}

/** Runs guardOperation (variables, NUL, mutation count, cost, type scopes) before any resolver runs. */
export function operationGuardPlugin(schema: GraphQLSchema, limits: GuardLimits): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation, contextValue }) {
          if (!operation) return;
          const refusal = guardOperation(schema, document, operation, request.variables ?? {}, contextValue.principal.scopes, limits);
          if (refusal) throw refusal;
        },
      };
    },
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';

/** HTTP statuses of answers that carry no data, by the code of their first error. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

/**
 * The HTTP status of a refused request as the GraphQL-over-HTTP spec gives it for the response's
 * media type: a request error (parse, validation, variables, limits) is 400 in
 * `application/graphql-response+json` and 200 in `application/json` (the legacy type, whose
 * clients read the errors from the body); authentication, authorisation, rate limits and
 * unavailability keep their own status in both. The media type is chosen as Apollo chooses it.
 */
export function statusByMediaTypePlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (result.data !== undefined || !result.errors?.length) return;
          const accept = request.http?.headers.get('accept');
          const mediaType = accept ? new Negotiator({ headers: { accept } }).mediaType([JSON_TYPE, GRAPHQL_RESPONSE_TYPE]) : JSON_TYPE;
          if (!mediaType) return;
          response.http.headers.set('content-type', mediaType);
          const code = String(result.errors[0].extensions?.code ?? '');
          const fixed = STATUS_BY_CODE[code];
          if (fixed) response.http.status = fixed;
          else response.http.status = mediaType === GRAPHQL_RESPONSE_TYPE ? 400 : 200;
        },
      };
    },
  };
}
