import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ContractStatus, InvoiceStatus, Provider } from './enums.js';
import { NodeInterface } from './node.js';
import { ConnectionType } from './connection.js';
import { DateTimeScalar, DecimalScalar } from '../scalars.js';

@ObjectType('Money')
export class MoneyType {
  @Field(() => DecimalScalar)
  amount: string;

  @Field({ description: 'ISO 4217 code' })
  currency: string;
}

@ObjectType('ExternalRef', { description: "A canonical record's id at one integration." })
export class ExternalRefType {
  @Field(() => ID)
  integrationId: string;

  @Field(() => Provider)
  provider: Provider;

  @Field()
  externalId: string;

  @Field(() => DateTimeScalar, { nullable: true })
  lastSyncedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Set when the provider deleted its record (reported by its webhook); the canonical record stays.' })
  deletedAt: Date | null;
}

@ObjectType('Customer', { implements: NodeInterface })
export class CustomerType extends NodeInterface {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  currency: string | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  @Field(() => Int, { description: 'Increases on every change; pass it as expectedVersion to update safely.' })
  version: number;
}

@ObjectType('Contract', { implements: NodeInterface })
export class ContractType extends NodeInterface {
  @Field()
  title: string;

  @Field(() => ContractStatus)
  status: ContractStatus;

  @Field(() => DateTimeScalar, { nullable: true })
  startDate: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endDate: Date | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  @Field(() => Int)
  version: number;
}

@ObjectType('InvoiceLineItem')
export class InvoiceLineItemType {
  @Field(() => ID)
  id: string;

  @Field()
  description: string;

  @Field(() => Int)
  quantity: number;

  @Field(() => DecimalScalar)
  unitAmount: string;

  @Field(() => DecimalScalar, { description: 'quantity × unitAmount' })
  amount: string;
}

@ObjectType('Invoice', { implements: NodeInterface })
export class InvoiceType extends NodeInterface {
  @Field(() => String, { nullable: true })
  number: string | null;

  @Field(() => InvoiceStatus)
  status: InvoiceStatus;

  @Field()
  currency: string;

  @Field(() => DateTimeScalar, { nullable: true })
  issuedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  dueAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  paidAt: Date | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  @Field(() => Int)
  version: number;
}

export const CustomerConnection = ConnectionType('Customer', CustomerType);
export const ContractConnection = ConnectionType('Contract', ContractType);
export const InvoiceConnection = ConnectionType('Invoice', InvoiceType);
