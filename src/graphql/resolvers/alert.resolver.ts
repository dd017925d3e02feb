import DataLoader from 'dataloader';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { AlertRule } from '../../alerts/alert-rule.entity.js';
import type { Alert } from '../../alerts/alert.entity.js';
import type { AlertRuleInput } from '../../alerts/alert.service.js';
import { HealthService, type IntegrationHealthRow } from '../../alerts/health.service.js';
import { Scope } from '../../domain/auth/roles.js';
import type { Integration } from '../../domain/integration/integration.entity.js';
import { parseId, toGlobalId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { streamOf } from '../subscriptions.js';
import { IntegrationType } from '../types/admin.types.js';
import {
  AlertConnection,
  AlertFilter,
  AlertRulePayload,
  AlertRuleType,
  AlertType,
  CreateAlertRuleInput,
  IntegrationHealth,
  ThroughputBucket,
  UpdateAlertRuleInput,
} from '../types/alert.types.js';
import { globalIdOf } from '../types/node.js';
import { PageArgsType } from './customer.resolver.js';

@ArgsType()
class AlertsArgs extends PageArgsType {
  @Field(() => AlertFilter, { nullable: true })
  filter?: AlertFilter | null;
}

const integrationGlobalId = (id: string | null) => (id ? toGlobalId('Integration', id) : null);

/** Global ids of the input decoded to row ids (undefined stays undefined: not given). */
function ruleInput(input: CreateAlertRuleInput | UpdateAlertRuleInput): AlertRuleInput {
  const decode = (value: string | null | undefined, field: string) => (value ? parseId('Integration', value, field) : value);
  return { ...input, integrationId: decode(input.integrationId, 'input.integrationId'), notifyIntegrationId: decode(input.notifyIntegrationId, 'input.notifyIntegrationId') };
}

@Resolver(() => AlertRuleType)
export class AlertRuleResolver {
  @FieldResolver(() => ID)
  id(@Root() rule: AlertRule): string {
    return globalIdOf(rule);
  }

  @FieldResolver(() => ID, { nullable: true })
  integrationId(@Root() rule: AlertRule): string | null {
    return integrationGlobalId(rule.integrationId);
  }

  @FieldResolver(() => ID, { nullable: true })
  notifyIntegrationId(@Root() rule: AlertRule): string | null {
    return integrationGlobalId(rule.notifyIntegrationId);
  }

  @FieldResolver(() => IntegrationType, { nullable: true, description: 'The integration watched; null: all.' })
  async integration(@Root() rule: AlertRule, @Ctx() ctx: GraphQLContext): Promise<Integration | null> {
    return rule.integrationId ? ctx.loaders.integration.load(rule.integrationId) : null;
  }

  @FieldResolver(() => AlertType, { nullable: true, description: "The rule's FIRING alert, if any." })
  async firing(@Root() rule: AlertRule, @Ctx() ctx: GraphQLContext): Promise<Alert | null> {
    return firingLoader(ctx).load(rule.id);
  }

  @Authorized(Scope.ALERTS_READ)
  @Query(() => [AlertRuleType], { description: 'Every alert rule, oldest first. OPERATOR and ADMIN.' })
  alertRules(@Ctx() ctx: GraphQLContext): Promise<AlertRule[]> {
    return ctx.services.alerts.listRules();
  }

  @Authorized(Scope.ALERTS_MANAGE)
  @Mutation(() => AlertRulePayload, { description: 'A new rule, evaluated from the next evaluation on (every ALERT_EVAL_INTERVAL_MS).' })
  async createAlertRule(@Arg('input', () => CreateAlertRuleInput) input: CreateAlertRuleInput, @Ctx() ctx: GraphQLContext) {
    return { alertRule: await ctx.services.alerts.createRule(ruleInput(input)) };
  }

  @Authorized(Scope.ALERTS_MANAGE)
  @Mutation(() => AlertRulePayload)
  async updateAlertRule(@Arg('id', () => ID) id: string, @Arg('input', () => UpdateAlertRuleInput) input: UpdateAlertRuleInput, @Ctx() ctx: GraphQLContext) {
    return { alertRule: await ctx.services.alerts.updateRule(parseId('AlertRule', id, 'id'), ruleInput(input)) };
  }

  @Authorized(Scope.ALERTS_MANAGE)
  @Mutation(() => AlertRulePayload, { description: 'Deletes the rule and its alerts (no resolved email is sent for a FIRING one).' })
  async deleteAlertRule(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return { alertRule: await ctx.services.alerts.deleteRule(parseId('AlertRule', id, 'id')) };
  }
}

@Resolver(() => AlertType)
export class AlertResolver {
  @FieldResolver(() => ID)
  id(@Root() alert: Alert): string {
    return globalIdOf(alert);
  }

  @FieldResolver(() => ID, { nullable: true })
  integrationId(@Root() alert: Alert): string | null {
    return integrationGlobalId(alert.integrationId);
  }

  @FieldResolver(() => AlertRuleType)
  async rule(@Root() alert: Alert, @Ctx() ctx: GraphQLContext): Promise<AlertRule> {
    return (await ruleLoader(ctx).load(alert.ruleId))!;
  }

  @Authorized(Scope.ALERTS_READ)
  @Query(() => AlertConnection, { description: 'Alerts, newest first; filter by status, integration or rule. OPERATOR and ADMIN.' })
  alerts(@Args() { first, after, filter }: AlertsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.alerts.list(
      {
        status: filter?.status ?? null,
        integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null,
        ruleId: filter?.ruleId ? parseId('AlertRule', filter.ruleId, 'filter.ruleId') : null,
      },
      { first, after },
    );
  }

  @Subscription(() => AlertType, {
    description: 'An alert fired or resolved, from whichever worker evaluated it. Needs alerts:read (OPERATOR, ADMIN).',
    subscribe: ({ context }) => {
      const ctx = context as GraphQLContext;
      return streamOf(ctx, 'alert.updated', Scope.ALERTS_READ, async (event) => (await ctx.services.alerts.findByIds([event.id]))[0] ?? null);
    },
  })
  alertUpdated(@Root() alert: Alert): Alert {
    return alert;
  }
}

/** Rules of one request's alerts in one query. */
const ruleLoaders = new WeakMap<object, DataLoader<string, AlertRule | null>>();
function ruleLoader(ctx: GraphQLContext): DataLoader<string, AlertRule | null> {
  let loader = ruleLoaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rules = new Map((await ctx.services.alerts.findRulesByIds(ids)).map((r) => [r.id, r]));
      return ids.map((id) => rules.get(id) ?? null);
    });
    ruleLoaders.set(ctx.loaders, loader);
  }
  return loader;
}

/** The FIRING alert of every rule a request lists, in one query. */
const firingLoaders = new WeakMap<object, DataLoader<string, Alert | null>>();
function firingLoader(ctx: GraphQLContext): DataLoader<string, Alert | null> {
  let loader = firingLoaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(async (ruleIds: readonly string[]) => {
      const firing = new Map((await ctx.services.alerts.firingOf(ruleIds)).map((a) => [a.ruleId, a]));
      return ruleIds.map((id) => firing.get(id) ?? null);
    });
    firingLoaders.set(ctx.loaders, loader);
  }
  return loader;
}

/** Health of every integration a request asks about, per window, in one statement. */
const healthLoaders = new WeakMap<object, Map<number, DataLoader<string, IntegrationHealthRow>>>();
function healthLoader(ctx: GraphQLContext, windowSeconds: number): DataLoader<string, IntegrationHealthRow> {
  let byWindow = healthLoaders.get(ctx.loaders);
  if (!byWindow) healthLoaders.set(ctx.loaders, (byWindow = new Map()));
  let loader = byWindow.get(windowSeconds);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rows = await ctx.services.health.healthOf(ids, windowSeconds);
      return ids.map((id) => rows.get(id)!);
    });
    byWindow.set(windowSeconds, loader);
  }
  return loader;
}

@Resolver(() => IntegrationType)
export class IntegrationHealthResolver {
  @Authorized(Scope.METRICS_READ)
  @FieldResolver(() => IntegrationHealth, { description: 'Calls, errors, queue and webhook lag over the last windowSeconds (default 900). OPERATOR and ADMIN.' })
  async health(
    @Root() integration: Integration,
    @Arg('windowSeconds', () => Int, { nullable: true, defaultValue: 900 }) windowSeconds: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<IntegrationHealth> {
    const row = await healthLoader(ctx, HealthService.checkWindow(windowSeconds ?? 900)).load(integration.id);
    const lastSyncRun = row.lastSyncRunId ? ((await ctx.services.sync.findByIds([row.lastSyncRunId]))[0] ?? null) : null;
    return { ...row, lastSyncRun };
  }
}

@Resolver()
export class ThroughputResolver {
  @Authorized(Scope.METRICS_READ)
  @Query(() => [ThroughputBucket], { description: 'Jobs finished and webhook events received per bucket over the last sinceSeconds, oldest bucket first. OPERATOR and ADMIN.' })
  throughput(
    @Arg('sinceSeconds', () => Int, { nullable: true, defaultValue: 900 }) sinceSeconds: number | null,
    @Arg('bucketSeconds', () => Int, { nullable: true, defaultValue: 10 }) bucketSeconds: number | null,
    @Arg('integrationId', () => ID, { nullable: true, description: 'One integration; omitted: all.' }) integrationId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ThroughputBucket[]> {
    return ctx.services.health.throughput(sinceSeconds ?? 900, bucketSeconds ?? 10, integrationId ? parseId('Integration', integrationId, 'integrationId') : null);
  }
}
