import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import type { Integration } from '../../domain/integration/integration.entity.js';
import type { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import type { IntegrationLog } from '../../domain/job/integration-log.entity.js';
import { parseId, toGlobalId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { IntegrationJobFilter, IntegrationLogFilter, SendNotificationInput } from '../inputs/job.inputs.js';
import { IntegrationType } from '../types/admin.types.js';
import { IntegrationJobConnection, IntegrationJobType, IntegrationLogConnection, IntegrationLogType, JobPayload, JobsPayload, ReplayPayload } from '../types/job.types.js';
import { globalIdOf } from '../types/node.js';
import { PageArgsType } from './customer.resolver.js';
import { anyEntityId } from './shared.js';

@ArgsType()
class JobsArgs extends PageArgsType {
  @Field(() => IntegrationJobFilter, { nullable: true })
  filter?: IntegrationJobFilter | null;
}

@ArgsType()
class LogsArgs extends PageArgsType {
  @Field(() => IntegrationLogFilter, { nullable: true })
  filter?: IntegrationLogFilter | null;
}

@Resolver(() => IntegrationJobType)
export class IntegrationJobResolver {
  @FieldResolver(() => ID)
  id(@Root() job: IntegrationJob): string {
    return globalIdOf(job);
  }

  @FieldResolver(() => IntegrationType)
  async integration(@Root() job: IntegrationJob, @Ctx() ctx: GraphQLContext): Promise<Integration> {
    return (await ctx.loaders.integration.load(job.integrationId))!;
  }

  @FieldResolver(() => ID, { nullable: true, description: 'The integration the change came from (WEBHOOK, POLL); it gets no job for its own change.' })
  sourceIntegrationId(@Root() job: IntegrationJob): string | null {
    return job.sourceIntegrationId ? toGlobalId('Integration', job.sourceIntegrationId) : null;
  }

  @FieldResolver(() => ID, { nullable: true, description: 'Global id of the canonical record.' })
  entityId(@Root() job: IntegrationJob): string | null {
    return job.entityId && job.entityType ? toGlobalId(job.entityType, job.entityId) : null;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: "notification.send only: the provider's delivery report (DELIVERED, BOUNCED, DROPPED), from its event webhook.",
  })
  deliveryStatus(@Root() job: IntegrationJob): string | null {
    const delivery = job.result?.delivery as { status?: string } | undefined;
    return delivery?.status ?? null;
  }

  @Authorized(Scope.LOGS_READ)
  @FieldResolver(() => [IntegrationLogType], { description: 'One row per attempt.' })
  logs(@Root() job: IntegrationJob, @Ctx() ctx: GraphQLContext): Promise<IntegrationLog[]> {
    return ctx.loaders.jobLogs.load(job.id);
  }

  @Authorized(Scope.JOBS_READ)
  @Query(() => IntegrationJobType)
  integrationJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<IntegrationJob> {
    return ctx.services.jobs.get(parseId('IntegrationJob', id, 'id'));
  }

  @Authorized(Scope.JOBS_READ)
  @Query(() => IntegrationJobConnection)
  integrationJobs(@Args() { first, after, filter }: JobsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.jobs.list(
      {
        ...filter,
        integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null,
        entityId: filter?.entityId ? anyEntityId(filter.entityId, 'filter.entityId') : null,
      },
      { first, after },
    );
  }

  @Authorized(Scope.JOBS_START)
  @Mutation(() => JobPayload, { description: 'Creates or updates the customer at the provider. The same idempotencyKey returns the same job.' })
  async pushCustomer(
    @Arg('customerId', () => ID) customerId: string,
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return {
      job: await ctx.services.jobs.pushCustomer(parseId('Customer', customerId, 'customerId'), parseId('Integration', integrationId, 'integrationId'), idempotencyKey, ctx.correlationId),
    };
  }

  @Authorized(Scope.JOBS_START)
  @Mutation(() => JobsPayload, {
    description:
      'pushCustomer for many customers (1 to 500): one job each, in the order given, enqueued in one transaction (all or none). ' +
      "With idempotencyKey (at most 139 characters), customer c's job is keyed `<idempotencyKey>:<c's id>`: a repeat returns the same jobs.",
  })
  async pushCustomers(
    @Arg('customerIds', () => [ID]) customerIds: string[],
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const ids = customerIds.map((id, i) => parseId('Customer', id, `customerIds[${i}]`));
    return { jobs: await ctx.services.jobs.pushCustomers(ids, parseId('Integration', integrationId, 'integrationId'), idempotencyKey, ctx.correlationId) };
  }

  @Authorized(Scope.JOBS_START)
  @Mutation(() => JobPayload, { description: 'Creates, finalizes and sends the invoice at the provider (Stripe).' })
  async sendInvoice(
    @Arg('invoiceId', () => ID) invoiceId: string,
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return {
      job: await ctx.services.jobs.sendInvoice(parseId('Invoice', invoiceId, 'invoiceId'), parseId('Integration', integrationId, 'integrationId'), idempotencyKey, ctx.correlationId),
    };
  }

  @Authorized(Scope.JOBS_START)
  @Mutation(() => JobPayload, { description: 'Sends a templated email through the provider (SendGrid).' })
  async sendNotification(
    @Arg('integrationId', () => ID) integrationId: string,
    @Arg('input', () => SendNotificationInput) input: SendNotificationInput,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const resolved = {
      ...input,
      customerId: input.customerId ? parseId('Customer', input.customerId, 'input.customerId') : null,
      invoiceId: input.invoiceId ? parseId('Invoice', input.invoiceId, 'input.invoiceId') : null,
    };
    return { job: await ctx.services.jobs.sendNotification(parseId('Integration', integrationId, 'integrationId'), resolved, idempotencyKey, ctx.correlationId) };
  }

  @Authorized(Scope.JOBS_MANAGE)
  @Mutation(() => JobPayload, { description: 'Puts a FAILED or CANCELLED job back in the queue (same provider idempotency key).' })
  async retryIntegrationJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return { job: await ctx.services.jobs.retry(parseId('IntegrationJob', id, 'id')) };
  }

  @Authorized(Scope.JOBS_MANAGE)
  @Mutation(() => JobPayload, { description: 'Cancels a PENDING or RETRYING job.' })
  async cancelIntegrationJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return { job: await ctx.services.jobs.cancel(parseId('IntegrationJob', id, 'id')) };
  }

  @Authorized(Scope.JOBS_MANAGE)
  @Mutation(() => ReplayPayload, { description: "Replays an integration's dead-letter queue: every FAILED job, oldest first (at most 1000 a call)." })
  async replayFailedIntegrationJobs(@Arg('integrationId', () => ID) integrationId: string, @Ctx() ctx: GraphQLContext) {
    return { jobs: await ctx.services.jobs.replayFailed(parseId('Integration', integrationId, 'integrationId')) };
  }
}

@Resolver(() => IntegrationLogType)
export class IntegrationLogResolver {
  @FieldResolver(() => ID)
  id(@Root() log: IntegrationLog): string {
    return globalIdOf(log);
  }

  @FieldResolver(() => ID, { nullable: true })
  integrationId(@Root() log: IntegrationLog): string | null {
    return log.integrationId ? toGlobalId('Integration', log.integrationId) : null;
  }

  @FieldResolver(() => ID, { nullable: true })
  jobId(@Root() log: IntegrationLog): string | null {
    return log.jobId ? toGlobalId('IntegrationJob', log.jobId) : null;
  }

  @FieldResolver(() => ID, { nullable: true })
  webhookEventId(@Root() log: IntegrationLog): string | null {
    return log.webhookEventId ? toGlobalId('WebhookEvent', log.webhookEventId) : null;
  }

  @Authorized(Scope.LOGS_READ)
  @Query(() => IntegrationLogConnection)
  integrationLogs(@Args() { first, after, filter }: LogsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.jobs.listLogs(
      {
        ...filter,
        integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null,
        jobId: filter?.jobId ? parseId('IntegrationJob', filter.jobId, 'filter.jobId') : null,
        webhookEventId: filter?.webhookEventId ? parseId('WebhookEvent', filter.webhookEventId, 'filter.webhookEventId') : null,
      },
      { first, after },
    );
  }
}
