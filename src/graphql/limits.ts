import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import depthLimit from 'graphql-depth-limit';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../domain/shared/pagination.js';

/** Introspection queries are deep by nature; they are allowed for every authenticated key. */
export function depthLimitRule(maxDepth: number) {
  return depthLimit(maxDepth, { ignore: [/^__/] });
}

/**
 * A list field costs its page size times what each element costs, so `first: 100` nested twice
 * is priced as the rows it could touch.
 */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  const type = String(field.type);
  if (!type.endsWith('Connection!') && !type.endsWith('Connection')) return undefined;
  const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + Math.max(first, 1) * Math.max(childComplexity, 1);
};

/** Refuses an operation whose estimated cost is over the limit, before any resolver runs. */
export function costLimitPlugin(schema: GraphQLSchema, maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operationName }) {
          const cost = getComplexity({
            schema,
            query: document,
            operationName: operationName ?? undefined,
            variables: request.variables ?? {},
            estimators: [fieldExtensionsEstimator(), connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
          });
          if (cost > maxCost) {
            throw new GraphQLError(`Query cost ${cost} is over the limit of ${maxCost}; ask for smaller pages or fewer nested lists`, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', cost, maxCost, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
