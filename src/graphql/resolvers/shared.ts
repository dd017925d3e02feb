import type { ExternalRef } from '../../domain/external-ref/external-ref.entity.js';
import { toGlobalId } from '../../domain/shared/ids.js';
import type { ExternalRefType } from '../types/canonical.types.js';

export const externalRefView = (ref: ExternalRef): ExternalRefType => ({
  integrationId: toGlobalId('Integration', ref.integrationId),
  provider: ref.provider,
  externalId: ref.externalId,
  lastSyncedAt: ref.lastSyncedAt,
  deletedAt: ref.deletedAt,
});
