import type { CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import { ChangeSource } from '../domain/shared/field-origins.js';
import type { HandlerResult } from '../webhooks/inbound-handler.js';
import { ReconcileContext } from '../webhooks/reconcile.js';
import { emptyPublished, type PageApply, type PageResult, type PolledRecord } from './poller.js';

/** A record read from the provider as a change's origin: ordered by the time its state is as of. */
export function pollContext(page: PageApply, record: PolledRecord): ReconcileContext {
  return new ReconcileContext(page.tx, page.integration, { source: ChangeSource.POLL, webhookEventId: null, occurredAt: new Date(record.at), correlationId: page.correlationId }, page.ownership);
}

/**
 * A page applied one record at a time through the provider's inbound code (the path webhooks
 * take), in the page's transaction: for resources whose pages are small or whose records need
 * that code's reads (events, invoices, deals).
 */
export async function applyEach(page: PageApply, records: PolledRecord[], apply: (ctx: ReconcileContext, record: PolledRecord) => Promise<HandlerResult>): Promise<PageResult> {
  const result: PageResult = { changed: 0, published: emptyPublished(), decisions: new Map(), notes: [] };
  for (const record of records) {
    const ctx = pollContext(page, record);
    const outcome = await apply(ctx, record);
    if (page.jobs) await ctx.fanOut(page.jobs);
    ctx.published.jobs.push(...ctx.fanned);
    await ctx.flushLogs();
    const p = ctx.published;
    if (p.customers.length + p.invoices.length + p.contracts.length + p.jobs.length > 0) result.changed++;
    for (const key of ['customers', 'invoices', 'contracts', 'jobs', 'logs'] as const) (result.published[key] as unknown[]).push(...p[key]);
    result.decisions.set(record.externalId, ctx.decisions);
    if (outcome.note) result.notes.push(outcome.note);
    result.notes.push(...ctx.notes);
  }
  return result;
}

/** Marks the links of a FULL run's page as seen by it (and alive: the provider has them). */
export async function markSeen(page: PageApply, entityType: CanonicalEntityType, externalIds: string[], runId: string): Promise<void> {
  if (externalIds.length === 0) return;
  await page.tx.query(
    `UPDATE external_ref SET last_seen_run = $4, deleted_at = NULL WHERE integration_id = $1 AND entity_type = $2 AND external_id = ANY($3::text[])`,
    [page.integration.id, entityType, externalIds, runId],
  );
}

/** Several results of one page as one (in order). `seenMarked` only if every part marked its links. */
export function mergeResults(parts: PageResult[]): PageResult {
  const out: PageResult = { changed: 0, published: emptyPublished(), decisions: new Map(), notes: [], seenMarked: parts.length > 0 && parts.every((p) => p.seenMarked) };
  for (const p of parts) {
    out.changed += p.changed;
    if (p.deleted) out.deleted = (out.deleted ?? 0) + p.deleted;
    for (const key of ['customers', 'invoices', 'contracts', 'jobs', 'logs'] as const) (out.published[key] as unknown[]).push(...p.published[key]);
    for (const [k, v] of p.decisions) out.decisions.set(k, [...(out.decisions.get(k) ?? []), ...v]);
    out.notes.push(...p.notes);
  }
  return out;
}
