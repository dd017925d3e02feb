import { In, type DataSource, type EntityManager } from 'typeorm';
import { newId } from '../shared/ids.js';
import type { Provider } from '../integration/integration.entity.js';
import { ExternalRef, type CanonicalEntityType } from './external-ref.entity.js';

export class ExternalRefService {
  constructor(private readonly db: DataSource) {}

  async forEntities(entityType: CanonicalEntityType, entityIds: readonly string[]): Promise<ExternalRef[]> {
    return this.db.getRepository(ExternalRef).find({
      where: { entityType, entityId: In([...entityIds]) },
      order: { id: 'ASC' },
    });
  }

  async find(integrationId: string, entityType: CanonicalEntityType, externalId: string, manager: EntityManager = this.db.manager) {
    return manager.findOneBy(ExternalRef, { integrationId, entityType, externalId });
  }

  /** Records (or refreshes) the link between a canonical record and its id at one integration. */
  async link(
    ref: { integrationId: string; provider: Provider; entityType: CanonicalEntityType; entityId: string; externalId: string; remoteData?: Record<string, unknown> | null },
    manager: EntityManager = this.db.manager,
  ): Promise<void> {
    await manager.query(upsertLinksSql('$1', '$2', '$3'), [ref.integrationId, ref.provider, linksParam([ref])]);
  }
}

export interface LinkInput {
  entityType: CanonicalEntityType;
  entityId: string;
  externalId: string;
  remoteData?: Record<string, unknown> | null;
  /** Hashes of values the provider now holds (merged into the link's). */
  syncedHashes?: Record<string, string> | null;
}

/** Links as the JSON array `upsertLinksSql` reads. */
export function linkRecords(links: LinkInput[]): Array<Record<string, unknown>> {
  return links.map((l) => ({ id: newId(), entityType: l.entityType, entityId: l.entityId, externalId: l.externalId, remoteData: l.remoteData ?? null, syncedHashes: l.syncedHashes ?? null }));
}

/** Links as the JSON parameter `upsertLinksSql` reads. */
export function linksParam(links: LinkInput[]): string {
  return JSON.stringify(linkRecords(links));
}

/**
 * Upserts every link in a JSON array parameter for one integration: a statement of its own, or a
 * step in a larger one (the outbound worker completes a job in a single statement). With `from`
 * (a FROM item ending in `CROSS JOIN LATERAL`), the integration, provider and links are read per
 * row of it: the worker completes a cohort of jobs in one statement. A link two rows of one
 * statement both carry is written once (an upsert cannot touch one row twice).
 */
export function upsertLinksSql(integrationParam: string, providerParam: string, linksParamRef: string, from = ''): string {
  return `INSERT INTO external_ref (id, entity_type, entity_id, integration_id, provider, external_id, remote_data, last_synced_at, synced_hashes)
    SELECT DISTINCT ON (${integrationParam}::uuid, r."entityType", r."externalId") r.id, r."entityType", r."entityId", ${integrationParam}::uuid, ${providerParam}::text, r."externalId", r."remoteData", now(), COALESCE(r."syncedHashes", '{}'::jsonb)
    FROM ${from} jsonb_to_recordset(${linksParamRef}::jsonb) AS r(id uuid, "entityType" text, "entityId" uuid, "externalId" text, "remoteData" jsonb, "syncedHashes" jsonb)
    ON CONFLICT (integration_id, entity_type, external_id)
    DO UPDATE SET entity_id = EXCLUDED.entity_id, remote_data = COALESCE(EXCLUDED.remote_data, external_ref.remote_data), last_synced_at = now(),
                  synced_hashes = external_ref.synced_hashes || EXCLUDED.synced_hashes`;
}
