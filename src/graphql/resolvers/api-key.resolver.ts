import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ApiKey } from '../../domain/auth/api-key.entity.js';
import { ApiKeyService } from '../../domain/auth/api-key.service.js';
import { Scope } from '../../domain/auth/roles.js';
import { parseId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { CreateApiKeyInput } from '../inputs/admin.inputs.js';
import { ApiKeyType, CreateApiKeyPayload } from '../types/admin.types.js';
import { globalIdOf } from '../types/node.js';

@Resolver(() => ApiKeyType)
export class ApiKeyResolver {
  @FieldResolver(() => ID)
  id(@Root() key: ApiKey): string {
    return globalIdOf(key);
  }

  @FieldResolver(() => [String], { description: 'What the key may do: its role scopes, narrowed or granted at creation.' })
  scopes(@Root() key: ApiKey): readonly string[] {
    return ApiKeyService.principalOf(key).scopes;
  }

  @Authorized(Scope.KEYS_MANAGE)
  @Query(() => [ApiKeyType])
  apiKeys(@Ctx() ctx: GraphQLContext): Promise<ApiKey[]> {
    return ctx.services.apiKeys.list();
  }

  @Authorized(Scope.KEYS_MANAGE)
  @Mutation(() => CreateApiKeyPayload, { description: 'The key is returned once; only its hash is kept.' })
  async createApiKey(@Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput, @Ctx() ctx: GraphQLContext) {
    const customerIds = input.customerIds?.map((id, i) => parseId('Customer', id, `customerIds[${i}]`));
    return ctx.services.apiKeys.create({ ...input, customerIds });
  }

  @Authorized(Scope.KEYS_MANAGE)
  @Mutation(() => ApiKeyType, { description: 'Takes effect on the next request.' })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ApiKey> {
    return ctx.services.apiKeys.revoke(parseId('ApiKey', id, 'id'));
  }
}
