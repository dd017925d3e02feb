import { Arg, Ctx, Field, ID, InputType, Resolver, Root, Subscription } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import type { Customer } from '../../domain/customer/customer.entity.js';
import type { Invoice } from '../../domain/invoice/invoice.entity.js';
import type { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import type { IntegrationLog } from '../../domain/job/integration-log.entity.js';
import { canSeeCustomer } from '../../domain/shared/access.js';
import { parseId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { streamOf } from '../subscriptions.js';
import { anyEntityId } from './shared.js';
import { ContractType, CustomerType, InvoiceType } from '../types/canonical.types.js';
import type { Contract } from '../../domain/contract/contract.entity.js';
import { IntegrationJobType, IntegrationLogType } from '../types/job.types.js';

@InputType({ description: 'Every field given must match (server-side).' })
export class IntegrationEventFilter {
  @Field(() => ID, { nullable: true })
  jobId?: string | null;

  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => String, { nullable: true })
  correlationId?: string | null;

  @Field(() => ID, { nullable: true, description: 'The canonical record (Customer, Contract or Invoice) the job is about.' })
  entityId?: string | null;
}

@InputType()
export class CustomerEventFilter {
  @Field(() => ID, { nullable: true })
  id?: string | null;
}

@InputType()
export class ContractEventFilter {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;
}

@InputType()
export class InvoiceEventFilter {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;
}

/**
 * One load per delivered event, shared by every subscription of this process that wants it (the
 * relay hands the same event object to each): 1,000 subscribers cost one query, not 1,000.
 * Field resolvers still apply each subscriber's scopes (PII) to the shared record.
 */
const loaded = new WeakMap<object, Promise<unknown>>();
function loadOnce<T>(event: object, load: () => Promise<T>): Promise<T> {
  let pending = loaded.get(event) as Promise<T> | undefined;
  if (!pending) {
    pending = load();
    loaded.set(event, pending);
  }
  return pending;
}

interface ParsedFilter {
  jobId: string | null;
  integrationId: string | null;
  correlationId: string | null;
  entityId: string | null;
}

function parseFilter(filter: IntegrationEventFilter | null | undefined): ParsedFilter {
  return {
    jobId: filter?.jobId ? parseId('IntegrationJob', filter.jobId, 'filter.jobId') : null,
    integrationId: filter?.integrationId ? parseId('Integration', filter.integrationId, 'filter.integrationId') : null,
    correlationId: filter?.correlationId ?? null,
    entityId: filter?.entityId ? anyEntityId(filter.entityId, 'filter.entityId') : null,
  };
}

/** Partners see canonical events of their granted customers only; job and log topics need their scopes. */
@Resolver()
export class SubscriptionResolver {
  @Subscription(() => IntegrationJobType, {
    description: 'Every status change of matching jobs, in order, once; from any worker process. Needs jobs:read.',
    subscribe: ({ args, context }) => {
      const f = parseFilter(args.filter);
      return streamOf(context as GraphQLContext, 'job.updated', Scope.JOBS_READ, (job) =>
        (!f.jobId || job.id === f.jobId) &&
        (!f.integrationId || job.integrationId === f.integrationId) &&
        (!f.correlationId || job.correlationId === f.correlationId) &&
        (!f.entityId || job.entityId === f.entityId)
          ? job
          : null,
      );
    },
  })
  integrationJobUpdated(@Root() job: IntegrationJob, @Arg('filter', () => IntegrationEventFilter, { nullable: true }) _filter?: IntegrationEventFilter): IntegrationJob {
    return job;
  }

  @Subscription(() => IntegrationLogType, {
    description: 'Every new IntegrationLog row (outbound attempts, inbound requests and processing) matching the filter. Needs logs:read.',
    subscribe: ({ args, context }) => {
      const f = parseFilter(args.filter);
      const ctx = context as GraphQLContext;
      return streamOf(ctx, 'log.added', Scope.LOGS_READ, async (log) => {
        if (f.jobId && log.jobId !== f.jobId) return null;
        if (f.integrationId && log.integrationId !== f.integrationId) return null;
        if (f.correlationId && log.correlationId !== f.correlationId) return null;
        if (f.entityId) {
          if (!log.jobId) return null;
          const job = await loadOnce(log, async () => (await ctx.services.jobs.findByIds([log.jobId!]))[0] ?? null);
          if (job?.entityId !== f.entityId) return null;
        }
        return log;
      });
    },
  })
  integrationLogAdded(@Root() log: IntegrationLog, @Arg('filter', () => IntegrationEventFilter, { nullable: true }) _filter?: IntegrationEventFilter): IntegrationLog {
    return log;
  }

  @Subscription(() => CustomerType, {
    description: 'A customer changed, whatever the source (a mutation, a provider webhook, a sync run), as it is now; lastChange says where the change came from. Partners receive only their granted customers.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const id = args.filter?.id ? parseId('Customer', args.filter.id, 'filter.id') : null;
      return streamOf(ctx, 'customer.updated', Scope.CANONICAL_READ, async (event) => {
        if ((id && event.id !== id) || !canSeeCustomer(ctx.scope, event.id)) return null;
        return (await loadOnce(event, async () => (await ctx.services.customers.findByIds([event.id]))[0] ?? null)) as Customer | null;
      });
    },
  })
  customerUpdated(@Root() customer: Customer, @Arg('filter', () => CustomerEventFilter, { nullable: true }) _filter?: CustomerEventFilter): Customer {
    return customer;
  }

  @Subscription(() => InvoiceType, {
    description: 'An invoice changed, whatever the source (a mutation, a provider webhook such as PAID from Stripe, a sync run), as it is now; lastChange says where the change came from. Partners receive only their granted customers.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const id = args.filter?.id ? parseId('Invoice', args.filter.id, 'filter.id') : null;
      const customerId = args.filter?.customerId ? parseId('Customer', args.filter.customerId, 'filter.customerId') : null;
      return streamOf(ctx, 'invoice.updated', Scope.CANONICAL_READ, async (event) => {
        if ((id && event.id !== id) || (customerId && event.customerId !== customerId) || !canSeeCustomer(ctx.scope, event.customerId)) return null;
        return (await loadOnce(event, async () => (await ctx.services.invoices.findByIds([event.id]))[0] ?? null)) as Invoice | null;
      });
    },
  })
  invoiceUpdated(@Root() invoice: Invoice, @Arg('filter', () => InvoiceEventFilter, { nullable: true }) _filter?: InvoiceEventFilter): Invoice {
    return invoice;
  }

  @Subscription(() => ContractType, {
    description: 'A contract changed, whatever the source (a mutation, a provider webhook, a sync run), as it is now; lastChange says where the change came from. Partners receive only their granted customers.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const id = args.filter?.id ? parseId('Contract', args.filter.id, 'filter.id') : null;
      const customerId = args.filter?.customerId ? parseId('Customer', args.filter.customerId, 'filter.customerId') : null;
      return streamOf(ctx, 'contract.updated', Scope.CANONICAL_READ, async (event) => {
        if ((id && event.id !== id) || (customerId && event.customerId !== customerId) || !canSeeCustomer(ctx.scope, event.customerId)) return null;
        return (await loadOnce(event, async () => (await ctx.services.contracts.findByIds([event.id]))[0] ?? null)) as Contract | null;
      });
    },
  })
  contractUpdated(@Root() contract: Contract, @Arg('filter', () => ContractEventFilter, { nullable: true }) _filter?: ContractEventFilter): Contract {
    return contract;
  }
}
