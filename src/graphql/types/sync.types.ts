import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ChangeSource, type FieldOrigins } from '../../domain/shared/field-origins.js';
import { toGlobalId } from '../../domain/shared/ids.js';
import { SyncRunStatus } from '../../sync/sync-run.entity.js';
import { DateTimeScalar, JSONScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { NodeInterface } from './node.js';

export enum SyncMode {
  INCREMENTAL = 'INCREMENTAL',
  FULL = 'FULL',
}

registerEnumType(SyncMode, {
  name: 'SyncMode',
  description: 'FULL: every record the provider holds (backfill); ends the links of records it no longer has. INCREMENTAL: what changed since the last checkpoint.',
});
registerEnumType(SyncRunStatus, {
  name: 'SyncRunStatus',
  description: 'QUEUED: waiting for a worker (or for its paused integration). RUNNING: paging. SUCCEEDED, FAILED (error says why), CANCELLED.',
});
registerEnumType(ChangeSource, {
  name: 'ChangeSource',
  description: 'Where a change came from: API (a mutation), WEBHOOK (a provider event), POLL (a sync run or rehydrate), IMPORT.',
});

@ObjectType('SyncRun', { implements: NodeInterface, description: 'One run of one resource of one integration: reading the provider into the canonical model.' })
export class SyncRunType extends NodeInterface {
  @Field({ description: 'The provider resource read: customers, invoices (Stripe); contacts, deals (HubSpot).' })
  resource: string;

  @Field(() => SyncMode, { description: 'What the run is doing; an INCREMENTAL run whose checkpoint the provider no longer honours becomes FULL (note says why).' })
  mode: SyncMode;

  @Field(() => SyncRunStatus)
  status: SyncRunStatus;

  @Field({ description: '`api` (startSync) or `schedule` (the integration\'s pollIntervalSeconds).' })
  requestedBy: string;

  @Field()
  correlationId: string;

  @Field(() => DateTimeScalar)
  queuedAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt: Date | null;

  @Field(() => Int, { description: 'Pages read and committed.' })
  pages: number;

  @Field(() => Int, { description: 'Records read.' })
  recordsSeen: number;

  @Field(() => Int, { description: 'Records that changed the canonical model (a field, a new record, a new link).' })
  recordsChanged: number;

  @Field(() => Int, { description: 'FULL runs: links ended because the provider no longer has the record.' })
  recordsDeleted: number;

  @Field(() => String, { nullable: true })
  note: string | null;

  @Field(() => String, { nullable: true, description: 'Why the run FAILED.' })
  error: string | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description: "Where the resource's next INCREMENTAL run starts, as of this run's last committed page (Stripe: the last event applied; HubSpot: a modification time and id).",
  })
  checkpoint: unknown;
}

export const SyncRunConnection = ConnectionType('SyncRun', SyncRunType);

@InputType()
export class SyncRunFilter {
  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => SyncRunStatus, { nullable: true })
  status?: SyncRunStatus | null;

  @Field(() => String, { nullable: true })
  resource?: string | null;
}

@ObjectType()
export class SyncRunPayload {
  @Field(() => SyncRunType)
  syncRun: object;
}

@ObjectType({ description: 'One field as a sync run would weigh it: what the model holds, what the provider holds, and whether it would apply.' })
export class FieldChange {
  @Field({ description: 'The owned field name, e.g. customer.email, invoice.status.' })
  field: string;

  @Field(() => JSONScalar, { nullable: true, description: 'Personal fields (email, phone) are null for keys without pii:read.' })
  current: unknown;

  @Field(() => JSONScalar, { nullable: true })
  incoming: unknown;

  @Field()
  applies: boolean;

  @Field(() => String, { nullable: true, description: 'Why it does not apply (ownership, a newer change), or null.' })
  reason: string | null;
}

@ObjectType()
export class RehydratePayload {
  @Field(() => [FieldChange])
  changes: FieldChange[];

  @Field({ description: 'True when this call wrote changes (dryRun false and something applied).' })
  applied: boolean;
}

@ObjectType('FieldOrigin', { description: 'Where a field\'s current value came from.' })
export class FieldOriginType {
  @Field({ description: "The record's field (email, name, status, amountPaid, ...)." })
  field: string;

  @Field(() => ChangeSource)
  source: ChangeSource;

  @Field(() => ID, { nullable: true, description: 'The integration of a WEBHOOK or POLL change.' })
  integrationId: string | null;

  @Field(() => DateTimeScalar, { description: 'When the change was made (its provider time, for WEBHOOK and POLL).' })
  changedAt: Date;
}

/** A record's fieldOrigins as a list, in field order. */
export function originsOf(record: { fieldOrigins: FieldOrigins | null }): FieldOriginType[] {
  return Object.entries(record.fieldOrigins ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([field, o]) => ({ field, source: o.source, integrationId: o.integrationId ? toGlobalId('Integration', o.integrationId) : null, changedAt: new Date(o.at) }));
}


/** The record's latest change (the newest of its fieldOrigins): on a subscription event, where the change came from. */
export function lastChangeOf(record: { fieldOrigins: FieldOrigins | null }): FieldOriginType | null {
  const origins = originsOf(record);
  return origins.reduce<FieldOriginType | null>((latest, o) => (!latest || o.changedAt > latest.changedAt ? o : latest), null);
}
