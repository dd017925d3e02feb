import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { badInput } from './errors.js';
import { isUuid } from './ids.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** A Relay connection page; totalCount is a getter that runs its query only when read. */
export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  readonly totalCount: Promise<number>;
}

const CURSOR_PREFIX = 'k1:';

/** Keyset cursors: the last row's id (ids are time-ordered UUIDv7), opaque to clients. */
export function encodeCursor(id: string): string {
  return Buffer.from(CURSOR_PREFIX + id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, field = 'after'): string {
  const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const id = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : '';
  if (!isUuid(id)) throw badInput(field, `${field} is not a cursor this API issued`);
  return id;
}

export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0) throw badInput(field, `${field} must be a whole number from 0 to ${MAX_PAGE_SIZE}`);
  if (first > MAX_PAGE_SIZE) throw badInput(field, `${field} must be at most ${MAX_PAGE_SIZE}`);
  return first;
}

/** Checks the arguments before any statement runs, so bad input costs no query. */
export function parsePage(args: PageArgs): { limit: number; afterId: string | null } {
  return {
    limit: pageSize(args.first),
    afterId: args.after ? decodeCursor(args.after) : null,
  };
}

export function toConnection<T extends { id: string }>(
  rows: T[],
  limit: number,
  totalCount: () => Promise<number>,
): Connection<T> {
  const hasNextPage = rows.length > limit;
  const page = hasNextPage ? rows.slice(0, limit) : rows;
  const edges = page.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    get totalCount() {
      return totalCount();
    },
  };
}

/**
 * Runs a keyset page over `qb` (already filtered): rows after the cursor, ordered by id, one extra
 * row fetched to learn whether another page exists. The count reuses the filters without the cursor.
 */
export async function paginate<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  args: PageArgs,
): Promise<Connection<T>> {
  const { limit, afterId } = parsePage(args);
  const alias = qb.alias;
  const countQb = qb.clone();
  let totalCache: Promise<number> | undefined;
  const totalCount = () => (totalCache ??= countQb.getCount());
  if (limit === 0) return toConnection([], 0, totalCount);
  if (afterId) qb.andWhere(`${alias}.id > :__after`, { __after: afterId });
  const rows = await qb.orderBy(`${alias}.id`, 'ASC').limit(limit + 1).getMany();
  return toConnection(rows, limit, totalCount);
}

/**
 * One keyset page per parent in a single statement (row_number() over each parent's rows), for
 * nested connections such as `customer.invoices(first, after)` batched by a DataLoader.
 * `where` is extra SQL on the table's columns (unaliased), with named parameters.
 */
export async function paginateByParent<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  table: string,
  parentColumn: string,
  parentIds: readonly string[],
  args: PageArgs,
  where: { sql: string; params: Record<string, unknown> } | null,
  parentOf: (row: T) => string,
): Promise<Map<string, Connection<T>>> {
  const { limit, afterId } = parsePage(args);
  const conditions = [`${parentColumn} = ANY(:__parents)`];
  if (afterId) conditions.push('id > :__after');
  if (where) conditions.push(where.sql);
  const rows =
    limit === 0
      ? []
      : await qb
          .where(
            `${qb.alias}.id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY ${parentColumn} ORDER BY id) AS rn ` +
              `FROM ${table} WHERE ${conditions.join(' AND ')}) ranked WHERE rn <= :__limit)`,
            { ...(where?.params ?? {}), __parents: [...parentIds], __after: afterId, __limit: limit + 1 },
          )
          .orderBy(`${qb.alias}.id`, 'ASC')
          .getMany();
  const byParent = new Map<string, T[]>();
  for (const row of rows) {
    const key = parentOf(row);
    const list = byParent.get(key);
    if (list) list.push(row);
    else byParent.set(key, [row]);
  }
  const countQb = qb.dataSource
    .createQueryBuilder()
    .select(parentColumn, 'parent')
    .addSelect('count(*)::int', 'n')
    .from(table, 't')
    .where(`${parentColumn} = ANY(:__parents)`, { __parents: [...parentIds] })
    .groupBy(parentColumn);
  if (where) countQb.andWhere(where.sql, where.params);
  let counts: Promise<Map<string, number>> | undefined;
  const countsFor = () =>
    (counts ??= countQb.getRawMany<{ parent: string; n: number }>().then((r) => new Map(r.map((x) => [x.parent, x.n]))));
  return new Map(
    parentIds.map((parent) => [
      parent,
      toConnection(byParent.get(parent) ?? [], limit, () => countsFor().then((m) => m.get(parent) ?? 0)),
    ]),
  );
}
