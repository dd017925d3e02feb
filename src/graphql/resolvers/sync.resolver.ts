import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { hasScopes, Scope } from '../../domain/auth/roles.js';
import type { Integration } from '../../domain/integration/integration.entity.js';
import { parseId } from '../../domain/shared/ids.js';
import { announcePublished } from '../../sync/sync.service.js';
import type { SyncRun } from '../../sync/sync-run.entity.js';
import type { GraphQLContext } from '../context.js';
import { streamOf } from '../subscriptions.js';
import { IntegrationType } from '../types/admin.types.js';
import { globalIdOf } from '../types/node.js';
import { FieldChange, RehydratePayload, SyncMode, SyncRunConnection, SyncRunFilter, SyncRunPayload, SyncRunType } from '../types/sync.types.js';
import { PageArgsType } from './customer.resolver.js';
import { anyEntityId } from './shared.js';

@ArgsType()
class SyncRunsArgs extends PageArgsType {
  @Field(() => SyncRunFilter, { nullable: true })
  filter?: SyncRunFilter | null;
}

/** Fields whose values are personal: a rehydrate shows them only to keys with pii:read. */
const PERSONAL_FIELDS = new Set(['customer.email', 'customer.phone', 'customer.taxId']);

@Resolver(() => SyncRunType)
export class SyncRunResolver {
  @FieldResolver(() => ID)
  id(@Root() run: SyncRun): string {
    return globalIdOf(run);
  }

  @FieldResolver(() => IntegrationType)
  async integration(@Root() run: SyncRun, @Ctx() ctx: GraphQLContext): Promise<Integration> {
    return (await ctx.loaders.integration.load(run.integrationId))!;
  }

  @Authorized(Scope.INTEGRATIONS_READ)
  @Query(() => SyncRunConnection, { description: 'Sync runs, oldest first; filter by integration, status, resource.' })
  syncRuns(@Args() { first, after, filter }: SyncRunsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.sync.list(
      { ...filter, integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null },
      { first, after },
    );
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => SyncRunPayload, {
    description:
      'Queues a run of one resource: FULL reads everything the provider holds (backfill), INCREMENTAL what changed since the last checkpoint. One QUEUED or RUNNING run per integration and resource (CONFLICT otherwise).',
  })
  async startSync(
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('resource', { description: 'The provider resource: customers, invoices (Stripe); contacts, deals (HubSpot).' }) resource: string,
    @Arg('mode', () => SyncMode) mode: SyncMode,
    @Ctx() ctx: GraphQLContext,
  ) {
    const syncRun = await ctx.services.sync.start(parseId('Integration', integrationId, 'integrationId'), resource, mode, { correlationId: ctx.correlationId });
    return { syncRun };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => SyncRunPayload, { description: 'Cancels a QUEUED run, or stops a RUNNING one before its next page (pages already read stay applied).' })
  async cancelSync(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return { syncRun: await ctx.services.sync.cancel(parseId('SyncRun', id, 'id')) };
  }

  @Authorized(Scope.INTEGRATIONS_MANAGE)
  @Mutation(() => RehydratePayload, {
    description:
      'Reads the record linked to entityId at the integration as the provider holds it now and weighs every field as a sync run would (ownership, newer changes). dryRun (the default) writes nothing; otherwise what applies is applied, as source POLL.',
  })
  async rehydrate(
    @Arg('entityId', () => ID) entityId: string,
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('dryRun', () => Boolean, { defaultValue: true }) dryRun: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RehydratePayload> {
    const result = await ctx.services.sync.rehydrate(anyEntityId(entityId, 'entityId'), parseId('Integration', integrationId, 'integrationId'), dryRun, ctx.correlationId, (published) =>
      announcePublished(ctx.services.events, published),
    );
    const pii = hasScopes(ctx.principal.scopes, [Scope.PII_READ]);
    const changes: FieldChange[] = result.changes.map((d) => {
      const hidden = !pii && PERSONAL_FIELDS.has(d.field);
      return { field: d.field, current: hidden ? null : (d.current ?? null), incoming: hidden ? null : (d.incoming ?? null), applies: d.applies, reason: d.reason };
    });
    return { changes, applied: result.applied };
  }

  @Subscription(() => SyncRunType, {
    description: 'Every change of a sync run (queued, each page committed, ended), from any worker process. Needs integrations:read.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const filter = args.filter as SyncRunFilter | null | undefined;
      const integrationId = filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null;
      return streamOf(ctx, 'sync.updated', Scope.INTEGRATIONS_READ, async (event) => {
        if (integrationId && event.integrationId !== integrationId) return null;
        const run = (await ctx.services.sync.findByIds([event.id]))[0] ?? null;
        if (!run || (filter?.status && run.status !== filter.status) || (filter?.resource && run.resource !== filter.resource)) return null;
        return run;
      });
    },
  })
  syncRunUpdated(@Root() run: SyncRun, @Arg('filter', () => SyncRunFilter, { nullable: true }) _filter?: SyncRunFilter): SyncRun {
    return run;
  }
}
