import type { EntityManager } from 'typeorm';
import type { CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import type { Integration } from '../domain/integration/integration.entity.js';
import type { CallContext } from '../providers/connector.js';
import type { Ownership } from '../webhooks/ownership.js';
import type { JobService } from '../jobs/job.service.js';
import type { FieldDecision, Published } from '../webhooks/reconcile.js';

export type SyncMode = 'INCREMENTAL' | 'FULL';
export type Json = Record<string, unknown>;

/** One record as the provider holds it, or one of its change events. */
export interface PolledRecord {
  /** The provider's id of the record. */
  externalId: string;
  /**
   * The provider time this state is as of, in ms: the record's modification time, the event's
   * time, or (for providers that keep none) when the page was requested. It orders the record
   * against webhooks and other reads, field by field.
   */
  at: number;
  /** What the provider's apply reads. */
  payload: unknown;
}

/** Where a run starts, and what kind of run it really is (an INCREMENTAL run may have to be FULL). */
export interface RunPlan {
  mode: SyncMode;
  cursor: Json;
  /** Said on the run, e.g. why it became FULL. */
  note?: string;
}

export interface PollPage {
  records: PolledRecord[];
  /** Where the next page starts; null when the run has read everything. */
  next: Json | null;
  /**
   * Where the next INCREMENTAL run starts once this page is committed (FULL runs keep it until
   * they succeed).
   */
  checkpoint: Json | null;
  /** The run cannot go on as it is (an INCREMENTAL cursor the provider no longer honours): it continues as this, from `next`. */
  switchTo?: { mode: SyncMode; note: string };
}

/** A page applied inside its transaction. */
export interface PageApply {
  tx: EntityManager;
  integration: Integration;
  ownership: Ownership;
  correlationId: string;
  /** A FULL run's id: the links of the page's records are marked seen by it (deletions are what it did not see). */
  seenBy: string | null;
  /** Fans the page's changes out to the other integrations (jobs in the page's transaction); none: a dry run. */
  jobs: JobService | null;
}

export interface PageResult {
  /** Records that changed something in the canonical model (a field, a new record, a new link). */
  changed: number;
  published: Published;
  /** Per record (by external id): what was weighed, for rehydrate. */
  decisions: Map<string, FieldDecision[]>;
  notes: string[];
  /** The apply marked the page's links seen itself (else the runner does). */
  seenMarked?: boolean;
  /** Links the page ended because the provider reports the record deleted (counted in the run's recordsDeleted). */
  deleted?: number;
}

/**
 * How the gateway reads one provider: its resources, how it pages through each, and how a page
 * becomes canonical changes under the same identity, ownership and order rules as webhooks.
 * Lives in the provider's folder (`poller.ts`); the sync runner is provider-neutral.
 */
export interface Poller {
  /** Each resource (`customers`, `contacts`, ...) and the canonical type its records link to. */
  resources: Readonly<Record<string, CanonicalEntityType>>;
  /** The first cursor of a run, from the resource's checkpoint (null: none yet). */
  plan(call: CallContext, resource: string, mode: SyncMode, checkpoint: Json | null): Promise<RunPlan>;
  /** One page from `cursor`. 429 and transport errors are thrown as ProviderErrors; the runner waits and asks again. */
  page(call: CallContext, resource: string, cursor: Json): Promise<PollPage>;
  /** Applies a page's records in the caller's transaction. */
  apply(page: PageApply, resource: string, records: PolledRecord[]): Promise<PageResult>;
  /** One linked record as the provider holds it now (rehydrate); null when the provider has it no more. */
  read(call: CallContext, entityType: CanonicalEntityType, externalId: string): Promise<{ resource: string; record: PolledRecord } | null>;
}

export const emptyPublished = (): Published => ({ customers: [], invoices: [], contracts: [], jobs: [], logs: [] });
