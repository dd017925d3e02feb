import type { CanonicalEntityType } from '../../domain/external-ref/external-ref.entity.js';
import { applyCustomerSnapshots } from '../../sync/apply-customers.js';
import { applyEach, mergeResults } from '../../sync/apply-each.js';
import type { Json, PageApply, PageResult, Poller, PolledRecord, PollPage, RunPlan } from '../../sync/poller.js';
import type { HandlerResult } from '../../webhooks/inbound-handler.js';
import { nonEmpty, type ReconcileContext } from '../../webhooks/reconcile.js';
import { ProviderError, type CallContext, type HttpExchange } from '../connector.js';
import { EXTERNAL_ID_FIELD, getDeleted, query, queryMore, SalesforceError, soqlString, type QueryPage } from './api.js';
import type { StoredNotification } from './events.js';
import { accountFacts, salesforceHandler } from './inbound.js';

/** Rows per query: one batch of Salesforce's default size, so a query is usually one request. */
export const QUERY_LIMIT = 2_000;

/**
 * A record's SystemModstamp is set when it is saved, but the transaction that saved it can commit
 * later (triggers, flows, callouts), and others can still be saved in the same second: a run does
 * not move its checkpoint past this long before it began. The next run reads that window again
 * (its records change nothing); a record committed late inside it is found then.
 */
export const SETTLE_MS = 60_000;

/**
 * getDeleted answers for the last 15 days (less if the Recycle Bin was emptied): a checkpoint
 * whose deletion window starts earlier than this (a day's margin) cannot continue, the run is FULL.
 */
export const DELETED_KEPT_MS = 14 * 24 * 3600 * 1000;

const RESOURCES = {
  accounts: { sObject: 'Account', entity: 'Customer', fields: ['Id', 'Name', 'Phone', EXTERNAL_ID_FIELD, 'SystemModstamp'] },
  opportunities: {
    sObject: 'Opportunity',
    entity: 'Contract',
    fields: ['Id', 'Name', 'StageName', 'Amount', 'CloseDate', 'AccountId', 'IsClosed', 'IsWon', EXTERNAL_ID_FIELD, 'SystemModstamp'],
  },
} as const;
type Resource = keyof typeof RESOURCES;

/**
 * Where a run is. `deleted`: the INCREMENTAL run's deletion window (getDeleted), first. `records`:
 * records after (`ts`, `id`) in (SystemModstamp, Id) order; `ts` null is the beginning of time, and
 * `id` '' means every record at `ts`. `more`: the open query's next batch (nextRecordsUrl), `read`
 * the rows of that query read so far (LIMIT 2,000: once read, the next query starts after the
 * last row).
 */
interface Cursor {
  phase: 'deleted' | 'records';
  ts: number | null;
  id: string;
  more: string | null;
  read: number;
  /** The newest (SystemModstamp, Id) read: where the next INCREMENTAL run starts. */
  maxTs: number;
  maxId: string;
  /** When the run began (ms). */
  began: number;
  /** Where the next run's deletion window starts (ms, a whole minute). */
  deletedFrom: number;
}

/**
 * Where an INCREMENTAL run starts: records after (`ts`, `id`) (`id` absent: every record at `ts`
 * and after), and deletions from `deletedFrom`.
 */
interface Checkpoint {
  ts: number;
  id?: string;
  deletedFrom: number;
}

const MINUTE = 60_000;
const floorMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

function resourceOf(resource: string): (typeof RESOURCES)[Resource] {
  const r = RESOURCES[resource as Resource];
  if (!r) throw new ProviderError('client', `Salesforce has no resource ${resource}; it has ${Object.keys(RESOURCES).join(', ')}`, false);
  return r;
}

/** A REST dateTime (`2026-12-06T03:55:19.000+0000`) in ms. */
export function restMillis(value: unknown): number {
  const ms = Date.parse(String(value ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(ms) ? ms : 0;
}

/** A SOQL dateTime literal: unquoted, UTC, whole seconds unless the value has milliseconds. */
export function soqlDateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}

/**
 * The query of a page: every record after the position, oldest first, the Id breaking ties (many
 * records share one SystemModstamp: bulk loads, cascades, whole-second stamps).
 */
export function pageSoql(r: (typeof RESOURCES)[Resource], ts: number | null, id: string): string {
  const where =
    ts === null ? '' : id === '' ? ` WHERE SystemModstamp >= ${soqlDateTime(ts)}` : ` WHERE SystemModstamp > ${soqlDateTime(ts)} OR (SystemModstamp = ${soqlDateTime(ts)} AND Id > ${soqlString(id)})`;
  return `SELECT ${r.fields.join(', ')} FROM ${r.sObject}${where} ORDER BY SystemModstamp ASC, Id ASC LIMIT ${QUERY_LIMIT}`;
}

/** A queried record's fields as an Outbound Message carries them (text or null), for the same mapping. */
function fieldsOf(record: Json): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(record)) {
    if (k === 'attributes') continue;
    out[k] = v === null || v === undefined ? null : String(v);
  }
  return out;
}

function toRecord(row: Json): PolledRecord {
  return { externalId: String(row.Id), at: restMillis(row.SystemModstamp), payload: row };
}

const isDeletion = (record: PolledRecord) => (record.payload as Json | null)?.deleted === true;

/**
 * A deletion from getDeleted ends the link, as a deletion webhook does, unless the link knows a
 * state of the record newer than the deletion (it was restored from the Recycle Bin since; the
 * deletion windows overlap by up to a minute, so an old deletion can be read again).
 */
async function applyDeletion(ctx: ReconcileContext, entityType: CanonicalEntityType, record: PolledRecord): Promise<HandlerResult & { ended: boolean }> {
  await ctx.lockObject(entityType, record.externalId);
  const ref = await ctx.findRef(entityType, record.externalId);
  if (!ref) return { status: 'IGNORED', note: `${entityType} ${record.externalId} deleted in Salesforce was not linked`, ended: false };
  if (ref.deletedAt) return { status: 'IGNORED', ended: false };
  const known = Math.max(restMillis((ref.remoteData as Json | null)?.SystemModstamp), ...Object.values(ref.fieldClock ?? {}).filter((v) => typeof v === 'number'));
  if (known > record.at) return { status: 'IGNORED', note: `${record.externalId} was deleted before its last known change (restored since)`, ended: false };
  await ctx.markDeleted(entityType, record.externalId);
  return { status: 'PROCESSED', ended: true };
}

async function applyDeletions(page: PageApply, entityType: CanonicalEntityType, records: PolledRecord[]): Promise<PageResult> {
  let ended = 0;
  const result = await applyEach(page, records, async (ctx, record) => {
    const outcome = await applyDeletion(ctx, entityType, record);
    if (outcome.ended) ended++;
    return outcome;
  });
  return { ...result, deleted: ended };
}

/** An Opportunity row through the Outbound Message handler, with the link kept alive and its SystemModstamp. */
async function applyOpportunity(ctx: ReconcileContext, record: PolledRecord): Promise<HandlerResult> {
  const fields = fieldsOf(record.payload as Json);
  // Salesforce has the record now: a link ended by an earlier deletion lives again (undelete).
  await ctx.tx.query(`UPDATE external_ref SET deleted_at = NULL WHERE integration_id = $1 AND entity_type = 'Contract' AND external_id = $2 AND deleted_at IS NOT NULL`, [
    ctx.integration.id,
    record.externalId,
  ]);
  const stored: StoredNotification = { organizationId: null, actionId: null, notificationId: `poll:${record.externalId}`, sObjectType: 'Opportunity', fields };
  const outcome = await salesforceHandler.handle(ctx, stored, undefined);
  await ctx.tx.query(
    `UPDATE external_ref SET remote_data = COALESCE(remote_data, '{}'::jsonb) || jsonb_build_object('SystemModstamp', $3::text)
      WHERE integration_id = $1 AND entity_type = 'Contract' AND external_id = $2`,
    [ctx.integration.id, record.externalId, fields.SystemModstamp],
  );
  return outcome;
}

function checkpointOf(cursor: Cursor): Checkpoint {
  return { ts: cursor.ts ?? 0, ...(cursor.id ? { id: cursor.id } : {}), deletedFrom: cursor.deletedFrom };
}

/**
 * Salesforce: Accounts and Opportunities through SOQL (`GET /query`) on SystemModstamp with an Id
 * tie-breaker, 2,000 rows a query, following `nextRecordsUrl` within a query and starting the next
 * query after the last (SystemModstamp, Id) read; deletions through getDeleted (INCREMENTAL) or by
 * absence (FULL). Every call goes through api.ts: the shared token, its renewal on
 * INVALID_SESSION_ID, and the REQUEST_LIMIT_EXCEEDED and Sforce-Limit-Info holds.
 */
export const salesforcePoller: Poller = {
  resources: Object.fromEntries(Object.entries(RESOURCES).map(([k, v]) => [k, v.entity])) as Poller['resources'],

  async plan(_call, resource, mode, stored): Promise<RunPlan> {
    resourceOf(resource);
    const checkpoint = stored as Checkpoint | null;
    const began = Date.now();
    let note: string | undefined;
    if (mode === 'INCREMENTAL') {
      if (!checkpoint) note = 'no checkpoint yet: ran as FULL (backfill)';
      else if (began - checkpoint.deletedFrom > DELETED_KEPT_MS) {
        note = `the checkpoint (${new Date(checkpoint.deletedFrom).toISOString()}) is older than the 15 days Salesforce reports deletions for: ran as FULL`;
      } else {
        const id = checkpoint.id ?? '';
        const cursor: Cursor = { phase: 'deleted', ts: checkpoint.ts, id, more: null, read: 0, maxTs: checkpoint.ts, maxId: id, began, deletedFrom: checkpoint.deletedFrom };
        return { mode, cursor: cursor as unknown as Json };
      }
    }
    // FULL: deletions before it began are found by absence; the next INCREMENTAL run asks for those after.
    const cursor: Cursor = { phase: 'records', ts: null, id: '', more: null, read: 0, maxTs: 0, maxId: '', began, deletedFrom: floorMinute(began) };
    return { mode: 'FULL', note, cursor: cursor as unknown as Json };
  },

  async page(call, resource, raw): Promise<PollPage> {
    const r = resourceOf(resource);
    const cursor = raw as unknown as Cursor;
    const log: HttpExchange[] = [];
    if (cursor.phase === 'deleted') return deletedPage(call, r, cursor, log);

    let answer: QueryPage<Json>;
    let read = cursor.read;
    if (cursor.more) {
      try {
        answer = await queryMore<Json>(call, cursor.more, log);
      } catch (err) {
        // The query's server-side cursor is gone (15 minutes idle, or too many open): the same
        // rows again from the last position read.
        if (!(err instanceof SalesforceError && err.errorCode === 'INVALID_QUERY_LOCATOR')) throw err;
        answer = await query<Json>(call, pageSoql(r, cursor.ts, cursor.id), log);
        read = 0;
      }
    } else {
      answer = await query<Json>(call, pageSoql(r, cursor.ts, cursor.id), log);
      read = 0;
    }
    const records = answer.records.map(toRecord);
    read += records.length;
    const last = records.at(-1);
    const ts = last ? last.at : cursor.ts;
    const id = last ? last.externalId : cursor.id;
    let { maxTs, maxId } = cursor;
    if (last && (last.at > maxTs || (last.at === maxTs && last.externalId > maxId))) [maxTs, maxId] = [last.at, last.externalId];
    let next: Cursor | null = null;
    if (!answer.done && answer.nextRecordsUrl) next = { ...cursor, ts, id, more: answer.nextRecordsUrl, read, maxTs, maxId };
    else if (read >= QUERY_LIMIT && last) next = { ...cursor, ts, id, more: null, read: 0, maxTs, maxId };
    // Rows come in (SystemModstamp, Id) order: everything up to the newest read is read. Within
    // the settle window before the run began, the checkpoint stays at the window's start.
    const settled = cursor.began - SETTLE_MS;
    const checkpoint: Checkpoint = maxTs <= settled ? { ts: maxTs, ...(maxId ? { id: maxId } : {}), deletedFrom: cursor.deletedFrom } : { ts: settled, deletedFrom: cursor.deletedFrom };
    return { records, next: next as unknown as Json | null, checkpoint: checkpoint as unknown as Json };
  },

  async apply(page, resource, records) {
    const r = resourceOf(resource);
    const deletions = records.filter(isDeletion);
    const rows = records.filter((x) => !isDeletion(x));
    const parts: PageResult[] = [];
    if (deletions.length) parts.push(await applyDeletions(page, r.entity, deletions));
    if (rows.length && r.entity === 'Customer') {
      parts.push(
        await applyCustomerSnapshots(
          page,
          rows.map((rec) => {
            const fields = fieldsOf(rec.payload as Json);
            return {
              externalId: rec.externalId,
              at: rec.at,
              facts: accountFacts(fields),
              gatewayId: nonEmpty(fields[EXTERNAL_ID_FIELD]),
              remoteData: { SystemModstamp: fields.SystemModstamp },
            };
          }),
        ),
      );
    } else if (rows.length) {
      parts.push(await applyEach(page, rows, applyOpportunity));
    }
    return parts.length === 1 ? parts[0] : mergeResults(parts);
  },

  async read(call, entityType, externalId) {
    const resource: Resource | null = entityType === 'Customer' ? 'accounts' : entityType === 'Contract' ? 'opportunities' : null;
    if (!resource) return null;
    const r = RESOURCES[resource];
    const answer = await query<Json>(call, `SELECT ${r.fields.join(', ')} FROM ${r.sObject} WHERE Id = ${soqlString(externalId)}`, []);
    const row = answer.records[0];
    return row ? { resource, record: toRecord(row) } : null;
  },
};

/**
 * The deletions since the last run (getDeleted from `deletedFrom` to the end of the current minute:
 * Salesforce ignores seconds), then the records. A window Salesforce no longer covers whole (its
 * delete log starts later, or INVALID_REPLICATION_DATE) makes the run FULL: only absence can tell.
 */
async function deletedPage(call: CallContext, r: (typeof RESOURCES)[Resource], cursor: Cursor, log: HttpExchange[]): Promise<PollPage> {
  const end = floorMinute(cursor.began) + MINUTE;
  const full = (note: string): PollPage => {
    const began = Date.now();
    const next: Cursor = { phase: 'records', ts: null, id: '', more: null, read: 0, maxTs: 0, maxId: '', began, deletedFrom: floorMinute(began) };
    return { records: [], next: next as unknown as Json, checkpoint: null, switchTo: { mode: 'FULL', note } };
  };
  let answer;
  try {
    answer = await getDeleted(call, r.sObject, new Date(cursor.deletedFrom), new Date(end), log);
  } catch (err) {
    if (err instanceof SalesforceError && err.errorCode === 'INVALID_REPLICATION_DATE') return full(`Salesforce no longer reports deletions from ${new Date(cursor.deletedFrom).toISOString()}: ran as FULL`);
    throw err;
  }
  const earliest = answer.earliestDateAvailable ? restMillis(answer.earliestDateAvailable) : 0;
  if (earliest > cursor.deletedFrom) return full(`Salesforce's delete log starts at ${new Date(earliest).toISOString()}, after the last run's window: ran as FULL`);
  const covered = answer.latestDateCovered ? floorMinute(Math.min(restMillis(answer.latestDateCovered), end)) : cursor.deletedFrom;
  const deletedFrom = Math.max(cursor.deletedFrom, covered);
  const records: PolledRecord[] = answer.deletedRecords.map((d) => ({ externalId: String(d.id), at: restMillis(d.deletedDate), payload: { deleted: true, deletedDate: d.deletedDate } }));
  const next: Cursor = { ...cursor, phase: 'records', deletedFrom };
  return { records, next: next as unknown as Json, checkpoint: checkpointOf(next) as unknown as Json };
}
