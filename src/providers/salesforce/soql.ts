import { parseQuery, type Query, type WhereClause } from '@jetstreamapp/soql-parser-js';

/**
 * SOQL for the fake Salesforce. The query is parsed by `@jetstreamapp/soql-parser-js` (the whole
 * SOQL grammar), so a query the poller gets wrong fails in the tests as it would against an org;
 * the fake then answers the subset the poller sends, and refuses the rest plainly:
 *
 *   SELECT field, ... FROM Object
 *   [WHERE conditions on fields with = != < <= > >=, AND, OR, NOT, parentheses]
 *   [ORDER BY field [ASC|DESC], ...]
 *   [LIMIT n]
 *
 * Values: dateTime literals unquoted (`2026-01-02T03:04:05Z`, `.sss`, `+hh:mm`), strings quoted
 * with `'` (backslash escapes), numbers, true/false, null. Comparisons: dateTime fields by time,
 * others by code unit (Salesforce orders ids that way) or as numbers.
 */

export class SoqlError extends Error {
  constructor(
    message: string,
    readonly code: 'MALFORMED_QUERY' | 'INVALID_FIELD' = 'MALFORMED_QUERY',
  ) {
    super(message);
  }
}

type Row = Record<string, string | number | boolean | null>;
type Test = (row: Row) => boolean;

export interface SoqlQuery {
  fields: string[];
  from: string;
  where: Test | null;
  orderBy: Array<{ field: string; desc: boolean }>;
  limit: number | null;
}

const DATETIME_FIELDS = new Set(['SystemModstamp', 'LastModifiedDate', 'CreatedDate']);
const OPERATORS = new Set(['=', '!=', '<>', '<', '<=', '>', '>=']);

/** A string literal's text: the quotes off, SOQL's backslash escapes read. */
function unquote(literal: string): string {
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };
  return literal.slice(1, -1).replace(/\\(.)/g, (_, c: string) => escapes[c] ?? c);
}

function literalOf(field: string, value: unknown, type: unknown): string | number | boolean | null {
  if (Array.isArray(value) || typeof value !== 'string') throw new SoqlError(`the sandbox compares ${field} with one value only`);
  const quotedDate = type === 'STRING' && /^'\d{4}-\d{2}-\d{2}T/.test(value);
  if (DATETIME_FIELDS.has(field) && type !== 'DATETIME' && type !== 'NULL') {
    throw new SoqlError(`value of filter criterion for field '${field}' must be of type dateTime${quotedDate ? ' and should not be enclosed in quotes' : ''}`, 'INVALID_FIELD');
  }
  if (!DATETIME_FIELDS.has(field) && type === 'DATETIME') throw new SoqlError(`value of filter criterion for field '${field}' must not be a dateTime`, 'INVALID_FIELD');
  switch (type) {
    case 'DATETIME':
      return Date.parse(value);
    case 'STRING':
      return unquote(value);
    case 'INTEGER':
    case 'DECIMAL':
      return Number(value);
    case 'BOOLEAN':
      return value.toLowerCase() === 'true';
    case 'NULL':
      return null;
    default:
      throw new SoqlError(`the sandbox does not answer ${String(type)} values`);
  }
}

type Token = '(' | ')' | 'AND' | 'OR' | 'NOT' | Test;

/** The parser's WHERE chain (each condition with its parentheses, then an operator and the rest) as tokens. */
function tokensOf(where: WhereClause): Token[] {
  const out: Token[] = [];
  let node: WhereClause | undefined = where;
  while (node) {
    const left = node.left as Record<string, unknown> | null;
    if (left) {
      for (let i = 0; i < Number(left.openParen ?? 0); i++) out.push('(');
      if ('field' in left) {
        const field = String(left.field);
        const op = String(left.operator);
        if (!OPERATORS.has(op)) throw new SoqlError(`the sandbox does not answer the ${op} operator`);
        const literal = literalOf(field, left.value, left.literalType);
        out.push((row) => {
          const c = compareValues(row[field], literal, field);
          if (Number.isNaN(c)) return op === '!=' || op === '<>';
          return op === '=' ? c === 0 : op === '!=' || op === '<>' ? c !== 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
        });
      } else if (!('openParen' in left)) throw new SoqlError('the sandbox answers only field comparisons in WHERE');
      for (let i = 0; i < Number(left.closeParen ?? 0); i++) out.push(')');
    }
    const operator = 'operator' in node ? String(node.operator) : null;
    if (operator) out.push(operator as Token);
    node = 'right' in node ? node.right : undefined;
  }
  return out;
}

/** The tokens as one test: NOT binds tightest, then AND, then OR (SOQL's precedence). */
function testOf(tokens: Token[]): Test {
  let p = 0;
  const or = (): Test => {
    const parts = [and()];
    while (tokens[p] === 'OR') {
      p++;
      parts.push(and());
    }
    return (row) => parts.some((f) => f(row));
  };
  const and = (): Test => {
    const parts = [not()];
    while (tokens[p] === 'AND') {
      p++;
      parts.push(not());
    }
    return (row) => parts.every((f) => f(row));
  };
  const not = (): Test => {
    if (tokens[p] === 'NOT') {
      p++;
      const inner = not();
      return (row) => !inner(row);
    }
    const tok = tokens[p++];
    if (tok === '(') {
      const inner = or();
      if (tokens[p++] !== ')') throw new SoqlError('unbalanced parentheses');
      return inner;
    }
    if (typeof tok !== 'function') throw new SoqlError('a condition was expected');
    return tok;
  };
  const test = or();
  if (p !== tokens.length) throw new SoqlError('unbalanced parentheses');
  return test;
}

/** Parses one query and keeps it to the subset the fake answers; throws SoqlError with Salesforce's error code. */
export function parseSoql(soql: string): SoqlQuery {
  let q: Query;
  try {
    q = parseQuery(soql);
  } catch (err) {
    throw new SoqlError((err as Error).message.split('\n')[0]);
  }
  const unsupported = (['offset', 'groupBy', 'having', 'for', 'update', 'withDataCategory', 'withSecurityEnforced', 'withAccessLevel', 'usingScope'] as const).filter((k) => q[k] !== undefined);
  if (unsupported.length) throw new SoqlError(`the sandbox does not answer ${unsupported.join(', ')}`);
  if (!q.sObject) throw new SoqlError('FROM names no object');
  const fields = (q.fields ?? []).map((f) => {
    if (f.type !== 'Field') throw new SoqlError('the sandbox selects plain fields only');
    return f.field;
  });
  const orderBy = (q.orderBy === undefined ? [] : Array.isArray(q.orderBy) ? q.orderBy : [q.orderBy]).map((o) => {
    if (!('field' in o)) throw new SoqlError('the sandbox orders by plain fields only');
    return { field: o.field, desc: o.order === 'DESC' };
  });
  return { fields, from: q.sObject, where: q.where ? testOf(tokensOf(q.where)) : null, orderBy, limit: q.limit ?? null };
}

/**
 * Compares a row's value with another (a row's or a literal): dateTime fields by time, numbers as
 * numbers, the rest as text by code unit (Salesforce orders ids that way). NaN: one side is null.
 */
export function compareValues(a: unknown, b: unknown, fieldName: string): number {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null) ? 0 : Number.NaN;
  if (DATETIME_FIELDS.has(fieldName)) {
    const x = typeof a === 'number' ? a : Date.parse(String(a).replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    const y = typeof b === 'number' ? b : Date.parse(String(b).replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  const x = String(a);
  const y = String(b);
  return x === y ? 0 : x < y ? -1 : 1;
}
