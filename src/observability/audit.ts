import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';
import { newId } from '../domain/shared/ids.js';
import { maskBody, maskPersonal } from './masking.js';

/** Who is making the change: the API key of the request, or the gateway itself (null key). */
export interface Actor {
  keyId: string | null;
  name: string | null;
  correlationId: string | null;
}

const requests = new AsyncLocalStorage<{ actor: Actor | null }>();

/**
 * Runs one request with a holder for its actor; `setActor` fills it once the key is checked.
 * Everything the request runs (resolvers, services, their transactions) reads the same holder.
 */
export function withRequestScope<T>(run: () => T): T {
  return requests.run({ actor: null }, run);
}

export function setActor(actor: Actor): void {
  const scope = requests.getStore();
  if (scope) scope.actor = actor;
}

export function currentActor(): Actor | null {
  return requests.getStore()?.actor ?? null;
}

export interface AuditEntry {
  /** The mutation's name, e.g. `updateIntegration`. */
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  /** Views of the target before and after, without secrets (the caller leaves them out). */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Facts of the action itself (a rotation's grace, a replay's count). */
  details?: Record<string, unknown>;
  /** Fields holding personal data: stored masked (first character, length, fingerprint). */
  personal?: readonly string[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * `{ field: { before, after } }` for the fields that differ; on a create every field of `after`,
 * on a delete every field of `before`. Personal fields masked, the rest masked by value.
 */
export function auditChanges(entry: AuditEntry): Record<string, unknown> {
  const personal = new Set(entry.personal ?? []);
  const show = (field: string, value: unknown) => (value === undefined ? null : personal.has(field) ? maskPersonal(value) : maskBody(value));
  const fields = new Set([...Object.keys(entry.before ?? {}), ...Object.keys(entry.after ?? {})]);
  const changes: Record<string, unknown> = {};
  for (const field of fields) {
    const before = entry.before?.[field];
    const after = entry.after?.[field];
    if (entry.before && entry.after && same(before, after)) continue;
    changes[field] = { before: entry.before ? show(field, before) : null, after: entry.after ? show(field, after) : null };
  }
  if (entry.details) changes._details = maskBody(entry.details);
  return changes;
}

/**
 * One AuditLog row, in the caller's transaction: it commits with the change or not at all. The
 * actor is the request's (see withRequestScope); changes made by the gateway itself carry none.
 */
export async function recordAudit(tx: EntityManager, entry: AuditEntry): Promise<void> {
  const changes = auditChanges(entry);
  // An update that changed no field changed nothing worth a row.
  if (entry.before && entry.after && Object.keys(changes).length === 0) return;
  const actor = currentActor();
  await tx.query(
    `INSERT INTO audit_log (id, action, actor_key_id, actor_name, target_type, target_id, changes, correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [newId(), entry.action, actor?.keyId ?? null, actor?.name ?? null, entry.targetType ?? null, entry.targetId ?? null, JSON.stringify(changes), actor?.correlationId ?? null],
  );
}
