import type { AuthChecker } from 'type-graphql';
import { hasScopes } from '../domain/auth/roles.js';
import { forbidden, unauthenticated } from '../domain/shared/errors.js';
import type { GraphQLContext } from './context.js';

/** `@Authorized(scope...)`: the key must hold every scope named. */
export const authChecker: AuthChecker<GraphQLContext> = ({ context }, scopes) => {
  if (!context.principal) throw unauthenticated();
  const missing = scopes.filter((s) => !hasScopes(context.principal.scopes, [s]));
  if (missing.length > 0) throw forbidden(`This API key lacks the scope ${missing.join(', ')}`);
  return true;
};
