import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import type { Integration } from '../../domain/integration/integration.entity.js';
import { parseId } from '../../domain/shared/ids.js';
import type { WebhookEvent } from '../../domain/webhook/webhook-event.entity.js';
import type { GraphQLContext } from '../context.js';
import { IntegrationType } from '../types/admin.types.js';
import { globalIdOf } from '../types/node.js';
import { WebhookEventConnection, WebhookEventFilter, WebhookEventType } from '../types/webhook.types.js';
import { PageArgsType } from './customer.resolver.js';

@ArgsType()
class WebhookEventsArgs extends PageArgsType {
  @Field(() => WebhookEventFilter, { nullable: true })
  filter?: WebhookEventFilter | null;
}

@Resolver(() => WebhookEventType)
export class WebhookEventResolver {
  @FieldResolver(() => ID)
  id(@Root() event: WebhookEvent): string {
    return globalIdOf(event);
  }

  @FieldResolver(() => IntegrationType)
  async integration(@Root() event: WebhookEvent, @Ctx() ctx: GraphQLContext): Promise<Integration> {
    return (await ctx.loaders.integration.load(event.integrationId))!;
  }

  @Authorized(Scope.LOGS_READ)
  @Query(() => WebhookEventConnection, { description: 'Stored provider events, newest last; filter by integration, status, type, provider event id, time.' })
  webhookEvents(@Args() { first, after, filter }: WebhookEventsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.webhooks.list(
      { ...filter, integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null },
      { first, after },
    );
  }

  @Authorized(Scope.WEBHOOKS_MANAGE)
  @Mutation(() => WebhookEventType, { description: 'Runs the processing of a stored event again (idempotent: nothing newer is overwritten).' })
  replayWebhookEvent(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEvent> {
    return ctx.services.webhooks.replay(parseId('WebhookEvent', id, 'id'));
  }
}
