import { FieldOriginType, lastChangeOf, originsOf } from '../types/sync.types.js';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { hasScopes, Scope } from '../../domain/auth/roles.js';
import type { Customer } from '../../domain/customer/customer.entity.js';
import { parseId } from '../../domain/shared/ids.js';
import type { GraphQLContext } from '../context.js';
import { CreateCustomerInput, CustomerFilter, UpdateCustomerInput } from '../inputs/canonical.inputs.js';
import { ContractConnection, CustomerConnection, CustomerType, ExternalRefType, InvoiceConnection } from '../types/canonical.types.js';
import { InvoiceStatus } from '../types/enums.js';
import { globalIdOf } from '../types/node.js';
import { IntegrationJobType } from '../types/job.types.js';
import type { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import { externalRefView } from './shared.js';

@ArgsType()
export class PageArgsType {
  @Field(() => Int, { nullable: true, description: 'Page size, 0 to 100 (default 20).' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'The endCursor of the previous page.' })
  after?: string | null;
}

@ArgsType()
class CustomersArgs extends PageArgsType {
  @Field(() => CustomerFilter, { nullable: true })
  filter?: CustomerFilter | null;
}

@ArgsType()
class CustomerInvoicesArgs extends PageArgsType {
  @Field(() => InvoiceStatus, { nullable: true })
  status?: InvoiceStatus | null;
}

@ObjectType('CustomerPayload')
export class CustomerPayload {
  @Field(() => CustomerType)
  customer: Customer;

  @Field(() => [IntegrationJobType], { description: 'Sync jobs enqueued for integrations that auto-sync customers.' })
  jobs: IntegrationJob[];
}

@Resolver(() => CustomerType)
export class CustomerResolver {
  @FieldResolver(() => ID)
  id(@Root() customer: Customer): string {
    return globalIdOf(customer);
  }

  @FieldResolver(() => [FieldOriginType], { description: 'Where each field\'s current value came from (API, WEBHOOK, POLL, IMPORT, and which integration), by field.' })
  fieldOrigins(@Root() customer: Customer): FieldOriginType[] {
    return originsOf(customer);
  }

  @FieldResolver(() => FieldOriginType, { nullable: true, description: 'The latest change (the newest field origin): on customerUpdated, contractUpdated and invoiceUpdated, where the change came from.' })
  lastChange(@Root() customer: Customer): FieldOriginType | null {
    return lastChangeOf(customer);
  }

  @FieldResolver(() => String, { nullable: true, description: 'Personal: null for keys without pii:read.' })
  email(@Root() customer: Customer, @Ctx() ctx: GraphQLContext): string | null {
    return hasScopes(ctx.principal.scopes, [Scope.PII_READ]) ? customer.email : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Personal: null for keys without pii:read.' })
  phone(@Root() customer: Customer, @Ctx() ctx: GraphQLContext): string | null {
    return hasScopes(ctx.principal.scopes, [Scope.PII_READ]) ? customer.phone : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Personal: null for keys without pii:read.' })
  taxId(@Root() customer: Customer, @Ctx() ctx: GraphQLContext): string | null {
    return hasScopes(ctx.principal.scopes, [Scope.PII_READ]) ? customer.taxId : null;
  }

  @FieldResolver(() => [ExternalRefType])
  async externalRefs(@Root() customer: Customer, @Ctx() ctx: GraphQLContext): Promise<ExternalRefType[]> {
    return (await ctx.loaders.externalRefs.Customer.load(customer.id)).map(externalRefView);
  }

  @FieldResolver(() => ContractConnection)
  contracts(@Root() customer: Customer, @Args() args: PageArgsType, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.customerContracts(customer.id, { first: args.first, after: args.after });
  }

  @FieldResolver(() => InvoiceConnection)
  invoices(@Root() customer: Customer, @Args() args: CustomerInvoicesArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.customerInvoices(customer.id, { first: args.first, after: args.after, status: args.status });
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => CustomerType)
  customer(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Customer> {
    return ctx.services.customers.get(parseId('Customer', id, 'id'), ctx.scope);
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => CustomerConnection)
  customers(@Args() { first, after, filter }: CustomersArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.customers.list(filter ?? {}, { first, after }, ctx.scope, hasScopes(ctx.principal.scopes, [Scope.PII_READ]));
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => CustomerPayload)
  async createCustomer(@Arg('input', () => CreateCustomerInput) input: CreateCustomerInput, @Ctx() ctx: GraphQLContext): Promise<CustomerPayload> {
    const { customer, extra } = await ctx.services.customers.create(input, (tx, c) => ctx.services.jobs.autoSync(tx, 'Customer', c, ctx.correlationId));
    ctx.services.jobs.announce(extra ?? []);
    ctx.services.events.publish('customer.updated', customer);
    return { customer, jobs: extra ?? [] };
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => CustomerPayload)
  async updateCustomer(
    @Arg('id', () => ID) id: string,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Arg('input', () => UpdateCustomerInput) input: UpdateCustomerInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerPayload> {
    const { customer, extra } = await ctx.services.customers.update(parseId('Customer', id, 'id'), expectedVersion, input, (tx, c) =>
      ctx.services.jobs.autoSync(tx, 'Customer', c, ctx.correlationId),
    );
    ctx.services.jobs.announce(extra ?? []);
    ctx.services.events.publish('customer.updated', customer);
    return { customer, jobs: extra ?? [] };
  }
}
