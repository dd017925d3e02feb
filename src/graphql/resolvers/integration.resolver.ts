import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import { IntegrationStatus, type Integration } from '../../domain/integration/integration.entity.js';
import { parseId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { CreateIntegrationInput, IntegrationFilter, UpdateIntegrationInput } from '../inputs/admin.inputs.js';
import { AutoSyncEntity, IntegrationConnection, IntegrationPayload, IntegrationType } from '../types/admin.types.js';
import { globalIdOf } from '../types/node.js';
import { PageArgsType } from './customer.resolver.js';

@ArgsType()
class IntegrationsArgs extends PageArgsType {
  @Field(() => IntegrationFilter, { nullable: true })
  filter?: IntegrationFilter | null;
}

@Resolver(() => IntegrationType)
export class IntegrationResolver {
  @FieldResolver(() => ID)
  id(@Root() integration: Integration): string {
    return globalIdOf(integration);
  }

  @FieldResolver(() => String, { description: 'Where the provider should post webhooks for this integration (SALESFORCE: with the token Outbound Messages authenticate by).' })
  webhookUrl(@Root() integration: Integration, @Ctx() ctx: GraphQLContext): string {
    return `${ctx.publicUrl}/webhooks/${integration.id}${ctx.services.integrations.webhookUrlQuery(integration)}`;
  }

  @FieldResolver(() => Boolean)
  hasCredentials(@Root() integration: Integration): boolean {
    return integration.credentialsEncrypted !== null;
  }

  @FieldResolver(() => [AutoSyncEntity], { description: 'Canonical entities whose create/update enqueue a sync job here.' })
  autoSync(@Root() integration: Integration): string[] {
    return integration.autoSync;
  }

  @FieldResolver(() => Boolean)
  hasWebhookSecret(@Root() integration: Integration): boolean {
    return integration.webhookSecretEncrypted !== null;
  }

  @Authorized(Scope.INTEGRATIONS_READ)
  @Query(() => IntegrationType)
  integration(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Integration> {
    return ctx.services.integrations.get(parseId('Integration', id, 'id'));
  }

  @Authorized(Scope.INTEGRATIONS_READ)
  @Query(() => IntegrationConnection)
  integrations(@Args() { first, after, filter }: IntegrationsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.integrations.list(filter ?? {}, { first, after });
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => IntegrationPayload)
  async createIntegration(@Arg('input', () => CreateIntegrationInput) input: CreateIntegrationInput, @Ctx() ctx: GraphQLContext) {
    return { integration: await ctx.services.integrations.create(input) };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => IntegrationPayload)
  async updateIntegration(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateIntegrationInput) input: UpdateIntegrationInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return { integration: await ctx.services.integrations.update(parseId('Integration', id, 'id'), input) };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => IntegrationPayload, {
    description: 'New webhook secret; the previous one keeps verifying for graceSeconds (default 86400, at most 604800; 0: it stops at once).',
  })
  async rotateIntegrationSecret(
    @Arg('id', () => ID) id: string,
    @Arg('webhookSecret') webhookSecret: string,
    @Arg('graceSeconds', () => Int, { nullable: true }) graceSeconds: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return { integration: await ctx.services.integrations.rotateSecret(parseId('Integration', id, 'id'), webhookSecret, graceSeconds) };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => IntegrationPayload, { description: 'Jobs for a paused integration wait; none is lost.' })
  async pauseIntegration(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return { integration: await ctx.services.integrations.setStatus(parseId('Integration', id, 'id'), IntegrationStatus.PAUSED) };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => IntegrationPayload)
  async resumeIntegration(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    const integration = await ctx.services.integrations.setStatus(parseId('Integration', id, 'id'), IntegrationStatus.ACTIVE);
    await ctx.services.jobs.wakeDeferred(integration.id);
    // Webhook events stored while paused are processed now.
    await ctx.services.webhooks.wakeWaiting(integration.id);
    await ctx.services.sync.wakeQueued(integration.id);
    return { integration };
  }
}
