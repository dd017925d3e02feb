import type { ExternalRef } from '../../domain/external-ref/external-ref.entity.js';
import { parseId, toGlobalId } from '../../domain/shared/ids.js';
import type { ExternalRefType } from '../types/canonical.types.js';

export const externalRefView = (ref: ExternalRef): ExternalRefType => ({
  integrationId: toGlobalId('Integration', ref.integrationId),
  provider: ref.provider,
  externalId: ref.externalId,
  lastSyncedAt: ref.lastSyncedAt,
  deletedAt: ref.deletedAt,
});

/** A filter's entity id may name any canonical type (Customer, Contract or Invoice). */
export function anyEntityId(value: string, field: string): string {
  for (const type of ['Customer', 'Contract', 'Invoice']) {
    try {
      return parseId(type, value, field);
    } catch {
      /* try the next type */
    }
  }
  return parseId('Customer', value, field);
}
