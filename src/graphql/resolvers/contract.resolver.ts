import { FieldOriginType, lastChangeOf, originsOf } from '../types/sync.types.js';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import type { Contract } from '../../domain/contract/contract.entity.js';
import type { Customer } from '../../domain/customer/customer.entity.js';
import { parseId } from '../../domain/shared/ids.js';
import { fromMinorUnits } from '../../domain/shared/money.js';
import type { GraphQLContext } from '../context.js';
import { ContractFilter, CreateContractInput, UpdateContractInput } from '../inputs/canonical.inputs.js';
import { ContractConnection, ContractType, CustomerType, ExternalRefType, MoneyType } from '../types/canonical.types.js';
import { globalIdOf } from '../types/node.js';
import { IntegrationJobType } from '../types/job.types.js';
import type { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import { PageArgsType } from './customer.resolver.js';
import { externalRefView } from './shared.js';

@ArgsType()
class ContractsArgs extends PageArgsType {
  @Field(() => ContractFilter, { nullable: true })
  filter?: ContractFilter | null;
}

@ObjectType('ContractPayload')
export class ContractPayload {
  @Field(() => ContractType)
  contract: Contract;

  @Field(() => [IntegrationJobType], { description: 'Sync jobs enqueued for integrations that auto-sync contracts.' })
  jobs: IntegrationJob[];
}

@Resolver(() => ContractType)
export class ContractResolver {
  @FieldResolver(() => ID)
  id(@Root() contract: Contract): string {
    return globalIdOf(contract);
  }

  @FieldResolver(() => [FieldOriginType], { description: 'Where each field\'s current value came from (API, WEBHOOK, POLL, IMPORT, and which integration), by field.' })
  fieldOrigins(@Root() contract: Contract): FieldOriginType[] {
    return originsOf(contract);
  }

  @FieldResolver(() => FieldOriginType, { nullable: true, description: 'The latest change (the newest field origin): on customerUpdated, contractUpdated and invoiceUpdated, where the change came from.' })
  lastChange(@Root() contract: Contract): FieldOriginType | null {
    return lastChangeOf(contract);
  }

  @FieldResolver(() => CustomerType)
  async customer(@Root() contract: Contract, @Ctx() ctx: GraphQLContext): Promise<Customer> {
    return (await ctx.loaders.customer.load(contract.customerId))!;
  }

  @FieldResolver(() => MoneyType, { nullable: true })
  value(@Root() contract: Contract): MoneyType | null {
    if (contract.valueMinor === null || contract.valueCurrency === null) return null;
    return { amount: fromMinorUnits(contract.valueMinor, contract.valueCurrency), currency: contract.valueCurrency };
  }

  @FieldResolver(() => [ExternalRefType])
  async externalRefs(@Root() contract: Contract, @Ctx() ctx: GraphQLContext): Promise<ExternalRefType[]> {
    return (await ctx.loaders.externalRefs.Contract.load(contract.id)).map(externalRefView);
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => ContractType)
  contract(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Contract> {
    return ctx.services.contracts.get(parseId('Contract', id, 'id'), ctx.scope);
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => ContractConnection)
  contracts(@Args() { first, after, filter }: ContractsArgs, @Ctx() ctx: GraphQLContext) {
    const customerId = filter?.customerId ? parseId('Customer', filter.customerId, 'filter.customerId') : null;
    return ctx.services.contracts.list({ customerId, status: filter?.status }, { first, after }, ctx.scope);
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => ContractPayload)
  async createContract(@Arg('input', () => CreateContractInput) input: CreateContractInput, @Ctx() ctx: GraphQLContext): Promise<ContractPayload> {
    const customerId = parseId('Customer', input.customerId, 'customerId');
    const { contract, extra } = await ctx.services.contracts.create({ ...input, customerId }, (tx, k) =>
      ctx.services.jobs.autoSync(tx, 'Contract', k, ctx.correlationId),
    );
    ctx.services.jobs.announce(extra ?? []);
    ctx.services.events.publish('contract.updated', contract);
    return { contract, jobs: extra ?? [] };
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => ContractPayload)
  async updateContract(
    @Arg('id', () => ID) id: string,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Arg('input', () => UpdateContractInput) input: UpdateContractInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ContractPayload> {
    const { contract, extra } = await ctx.services.contracts.update(parseId('Contract', id, 'id'), expectedVersion, input, (tx, k) =>
      ctx.services.jobs.autoSync(tx, 'Contract', k, ctx.correlationId),
    );
    ctx.services.jobs.announce(extra ?? []);
    ctx.services.events.publish('contract.updated', contract);
    return { contract, jobs: extra ?? [] };
  }
}
