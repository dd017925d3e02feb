/** Where a change to the canonical model came from. */
export enum ChangeSource {
  /** A GraphQL mutation. */
  API = 'API',
  /** A provider's webhook event. */
  WEBHOOK = 'WEBHOOK',
  /** A sync run or a rehydrate: the gateway read the provider. */
  POLL = 'POLL',
  /** A bulk import. */
  IMPORT = 'IMPORT',
}

/** Where one field's current value came from. */
export interface FieldOrigin {
  source: ChangeSource;
  integrationId: string | null;
  /** ISO time of the change. */
  at: string;
}

export type FieldOrigins = Record<string, FieldOrigin>;

/** The fields whose value differs between two views of a record (JSON equality). */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return Object.keys(after).filter((k) => after[k] !== undefined && JSON.stringify(after[k] ?? null) !== JSON.stringify(before[k] ?? null));
}

/** Records, on a record about to be saved, where these fields' new values came from. */
export function markOrigins(
  record: { fieldOrigins: FieldOrigins },
  fields: Iterable<string>,
  origin: { source: ChangeSource; integrationId?: string | null; at?: Date },
): void {
  const value: FieldOrigin = { source: origin.source, integrationId: origin.integrationId ?? null, at: (origin.at ?? new Date()).toISOString() };
  const next = { ...(record.fieldOrigins ?? {}) };
  for (const field of fields) next[field] = value;
  record.fieldOrigins = next;
}
