import { FieldOriginType, lastChangeOf, originsOf } from '../types/sync.types.js';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Scope } from '../../domain/auth/roles.js';
import type { Contract } from '../../domain/contract/contract.entity.js';
import type { Customer } from '../../domain/customer/customer.entity.js';
import type { Invoice } from '../../domain/invoice/invoice.entity.js';
import { invoiceTotals } from '../../domain/invoice/invoice.service.js';
import { parseId } from '../../domain/shared/ids.js';
import { fromMinorUnits } from '../../domain/shared/money.js';
import type { GraphQLContext } from '../context.js';
import { CreateInvoiceInput, InvoiceFilter, UpdateInvoiceInput } from '../inputs/canonical.inputs.js';
import { DecimalScalar } from '../scalars.js';
import { ContractType, CustomerType, ExternalRefType, InvoiceConnection, InvoiceLineItemType, InvoiceType } from '../types/canonical.types.js';
import { globalIdOf } from '../types/node.js';
import { IntegrationJobType } from '../types/job.types.js';
import type { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import { PageArgsType } from './customer.resolver.js';
import { externalRefView } from './shared.js';

@ArgsType()
class InvoicesArgs extends PageArgsType {
  @Field(() => InvoiceFilter, { nullable: true })
  filter?: InvoiceFilter | null;
}

@ObjectType('InvoicePayload')
export class InvoicePayload {
  @Field(() => InvoiceType)
  invoice: Invoice;

  @Field(() => [IntegrationJobType], { description: 'Jobs this change enqueued (none today: invoices go out through sendInvoice).' })
  jobs: IntegrationJob[];
}

const amount = (invoice: Invoice, pick: (t: ReturnType<typeof invoiceTotals>) => bigint) =>
  fromMinorUnits(pick(invoiceTotals(invoice)), invoice.currency);

@Resolver(() => InvoiceType)
export class InvoiceResolver {
  @FieldResolver(() => ID)
  id(@Root() invoice: Invoice): string {
    return globalIdOf(invoice);
  }

  @FieldResolver(() => [FieldOriginType], { description: 'Where each field\'s current value came from (API, WEBHOOK, POLL, IMPORT, and which integration), by field.' })
  fieldOrigins(@Root() invoice: Invoice): FieldOriginType[] {
    return originsOf(invoice);
  }

  @FieldResolver(() => FieldOriginType, { nullable: true, description: 'The latest change (the newest field origin): on customerUpdated, contractUpdated and invoiceUpdated, where the change came from.' })
  lastChange(@Root() invoice: Invoice): FieldOriginType | null {
    return lastChangeOf(invoice);
  }

  @FieldResolver(() => CustomerType)
  async customer(@Root() invoice: Invoice, @Ctx() ctx: GraphQLContext): Promise<Customer> {
    return (await ctx.loaders.customer.load(invoice.customerId))!;
  }

  @FieldResolver(() => ContractType, { nullable: true })
  async contract(@Root() invoice: Invoice, @Ctx() ctx: GraphQLContext): Promise<Contract | null> {
    return invoice.contractId ? ctx.loaders.contract.load(invoice.contractId) : null;
  }

  @FieldResolver(() => [InvoiceLineItemType])
  async lineItems(@Root() invoice: Invoice, @Ctx() ctx: GraphQLContext): Promise<InvoiceLineItemType[]> {
    const lines = await ctx.loaders.lineItems.load(invoice.id);
    return lines.map((l) => ({
      id: l.id,
      description: l.description,
      quantity: l.quantity,
      unitAmount: fromMinorUnits(l.unitAmountMinor, invoice.currency),
      amount: fromMinorUnits(l.amountMinor, invoice.currency),
    }));
  }

  @FieldResolver(() => DecimalScalar, { description: 'Sum of the line items.' })
  subtotal(@Root() invoice: Invoice): string {
    return amount(invoice, (t) => t.subtotal);
  }

  @FieldResolver(() => DecimalScalar)
  tax(@Root() invoice: Invoice): string {
    return amount(invoice, (t) => t.tax);
  }

  @FieldResolver(() => DecimalScalar, { description: 'subtotal + tax' })
  total(@Root() invoice: Invoice): string {
    return amount(invoice, (t) => t.total);
  }

  @FieldResolver(() => DecimalScalar)
  amountPaid(@Root() invoice: Invoice): string {
    return amount(invoice, (t) => t.paid);
  }

  @FieldResolver(() => DecimalScalar, { description: 'total − amountPaid (0 once VOID)' })
  amountDue(@Root() invoice: Invoice): string {
    return amount(invoice, (t) => t.due);
  }

  @FieldResolver(() => [ExternalRefType])
  async externalRefs(@Root() invoice: Invoice, @Ctx() ctx: GraphQLContext): Promise<ExternalRefType[]> {
    return (await ctx.loaders.externalRefs.Invoice.load(invoice.id)).map(externalRefView);
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => InvoiceType)
  invoice(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Invoice> {
    return ctx.services.invoices.get(parseId('Invoice', id, 'id'), ctx.scope);
  }

  @Authorized(Scope.CANONICAL_READ)
  @Query(() => InvoiceConnection)
  invoices(@Args() { first, after, filter }: InvoicesArgs, @Ctx() ctx: GraphQLContext) {
    const customerId = filter?.customerId ? parseId('Customer', filter.customerId, 'filter.customerId') : null;
    return ctx.services.invoices.list({ ...filter, customerId }, { first, after }, ctx.scope);
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => InvoicePayload)
  async createInvoice(@Arg('input', () => CreateInvoiceInput) input: CreateInvoiceInput, @Ctx() ctx: GraphQLContext): Promise<InvoicePayload> {
    const customerId = parseId('Customer', input.customerId, 'customerId');
    const contractId = input.contractId ? parseId('Contract', input.contractId, 'contractId') : null;
    const invoice = await ctx.services.invoices.create({ ...input, customerId, contractId });
    ctx.services.events.publish('invoice.updated', invoice);
    return { invoice, jobs: [] };
  }

  @Authorized(Scope.CANONICAL_WRITE)
  @Mutation(() => InvoicePayload)
  async updateInvoice(
    @Arg('id', () => ID) id: string,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Arg('input', () => UpdateInvoiceInput) input: UpdateInvoiceInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<InvoicePayload> {
    const invoice = await ctx.services.invoices.update(parseId('Invoice', id, 'id'), expectedVersion, input);
    ctx.services.events.publish('invoice.updated', invoice);
    return { invoice, jobs: [] };
  }
}
