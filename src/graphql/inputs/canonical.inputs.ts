import { Field, ID, InputType, Int } from 'type-graphql';
import { DateTimeScalar, DecimalScalar } from '../scalars.js';
import { ContractStatus, InvoiceStatus } from '../types/enums.js';

@InputType()
export class CreateCustomerInput {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  taxId?: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 4217 code' })
  currency?: string | null;
}

@InputType({ description: 'Fields left out are unchanged; null clears an optional field.' })
export class UpdateCustomerInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  taxId?: string | null;

  @Field(() => String, { nullable: true })
  currency?: string | null;
}

@InputType()
export class CustomerFilter {
  @Field(() => String, { nullable: true, description: 'Exact, case-insensitive.' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Substring of name or email, case-insensitive.' })
  search?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  updatedSince?: Date | null;
}

@InputType()
export class MoneyInput {
  @Field(() => DecimalScalar)
  amount: string;

  @Field()
  currency: string;
}

@InputType()
export class CreateContractInput {
  @Field(() => ID)
  customerId: string;

  @Field()
  title: string;

  @Field(() => ContractStatus, { nullable: true })
  status?: ContractStatus | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startDate?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endDate?: Date | null;

  @Field(() => MoneyInput, { nullable: true })
  value?: MoneyInput | null;
}

@InputType()
export class UpdateContractInput {
  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => ContractStatus, { nullable: true })
  status?: ContractStatus | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startDate?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endDate?: Date | null;

  @Field(() => MoneyInput, { nullable: true })
  value?: MoneyInput | null;
}

@InputType()
export class ContractFilter {
  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => ContractStatus, { nullable: true })
  status?: ContractStatus | null;
}

@InputType()
export class LineItemInput {
  @Field()
  description: string;

  @Field(() => Int)
  quantity: number;

  @Field(() => DecimalScalar)
  unitAmount: string;
}

@InputType()
export class CreateInvoiceInput {
  @Field(() => ID)
  customerId: string;

  @Field(() => ID, { nullable: true })
  contractId?: string | null;

  @Field({ description: 'ISO 4217 code' })
  currency: string;

  @Field(() => DateTimeScalar, { nullable: true })
  dueAt?: Date | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'Tax on top of the line items; default 0.' })
  tax?: string | null;

  @Field(() => [LineItemInput])
  lineItems: LineItemInput[];
}

@InputType()
export class UpdateInvoiceInput {
  @Field(() => InvoiceStatus, { nullable: true })
  status?: InvoiceStatus | null;

  @Field(() => DateTimeScalar, { nullable: true })
  dueAt?: Date | null;

  @Field(() => DecimalScalar, { nullable: true })
  tax?: string | null;

  @Field(() => [LineItemInput], { nullable: true, description: 'Replaces every line item (DRAFT invoices only).' })
  lineItems?: LineItemInput[] | null;
}

@InputType()
export class InvoiceFilter {
  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => InvoiceStatus, { nullable: true })
  status?: InvoiceStatus | null;

  @Field(() => DateTimeScalar, { nullable: true })
  dueBefore?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  dueAfter?: Date | null;
}
