import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Provider } from '../integration/integration.entity.js';

export type CanonicalEntityType = 'Customer' | 'Contract' | 'Invoice';

/** Links one canonical record to its id in one integration. */
@Entity({ name: 'external_ref' })
export class ExternalRef {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'entity_type' })
  entityType: CanonicalEntityType;

  @Column('uuid', { name: 'entity_id' })
  entityId: string;

  @Column('uuid', { name: 'integration_id' })
  integrationId: string;

  @Column('text')
  provider: Provider;

  @Column('text', { name: 'external_id' })
  externalId: string;

  @Column('jsonb', { name: 'remote_data', nullable: true })
  remoteData: Record<string, unknown> | null;

  @Column('timestamptz', { name: 'last_synced_at', nullable: true })
  lastSyncedAt: Date | null;

  /** Per field, the provider time (ms) of the inbound change last applied through this link. */
  @Column('jsonb', { name: 'field_clock', default: () => "'{}'::jsonb" })
  fieldClock: Record<string, number>;

  /** The provider deleted its record; the canonical record stays (the gateway owns existence). */
  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;

  /** The FULL sync run that last read this record at the provider (a run ends the links it did not see). */
  @Column('uuid', { name: 'last_seen_run', nullable: true })
  lastSeenRun: string | null;

  /** Per canonical field, a hash of the value the provider holds as far as the gateway knows (echo suppression). */
  @Column('jsonb', { name: 'synced_hashes', default: () => "'{}'::jsonb" })
  syncedHashes: Record<string, string>;
}
