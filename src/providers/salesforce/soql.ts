/**
 * The subset of SOQL the fake Salesforce answers: the query shapes the poller sends, parsed for
 * real (a tokenizer and a recursive-descent parser), so a query the poller gets wrong fails in
 * the tests as it would against an org.
 *
 *   SELECT field, ... FROM Object
 *   [WHERE condition]            condition: term {OR term}; term: factor {AND factor};
 *                                factor: ( condition ) | field op value, op one of = != < <= > >=
 *   [ORDER BY field [ASC|DESC], ...]
 *   [LIMIT n]
 *
 * Values: dateTime literals unquoted (`2026-01-02T03:04:05Z`, `.sss`, `+hh:mm`), strings quoted
 * with `'` (backslash escapes), numbers, true/false, null. Comparisons: dateTime fields by time,
 * others as Salesforce compares ids and text here (by code unit).
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
type Value = { kind: 'datetime'; ms: number } | { kind: 'string'; text: string } | { kind: 'number'; n: number } | { kind: 'boolean'; b: boolean } | { kind: 'null' };

export interface SoqlQuery {
  fields: string[];
  from: string;
  where: ((row: Row) => boolean) | null;
  orderBy: Array<{ field: string; desc: boolean }>;
  limit: number | null;
}

type Token = { t: 'word' | 'string' | 'datetime' | 'number' | 'op' | 'punct'; v: string };

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})/;
const DATETIME_FIELDS = new Set(['SystemModstamp', 'LastModifiedDate', 'CreatedDate']);

function tokenize(soql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const rest = soql.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const dt = DATETIME.exec(rest);
    if (dt) {
      out.push({ t: 'datetime', v: dt[0] });
      i += dt[0].length;
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?(?![\w-])/.exec(rest);
    if (num) {
      out.push({ t: 'number', v: num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_]\w*/.exec(rest);
    if (word) {
      out.push({ t: 'word', v: word[0] });
      i += word[0].length;
      continue;
    }
    if (rest[0] === "'") {
      let text = '';
      let j = 1;
      for (; j < rest.length && rest[j] !== "'"; j++) {
        if (rest[j] === '\\') {
          j++;
          if (j >= rest.length) break;
          text += ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' } as Record<string, string>)[rest[j]] ?? rest[j];
        } else text += rest[j];
      }
      if (rest[j] !== "'") throw new SoqlError('unterminated string literal');
      out.push({ t: 'string', v: text });
      i += j + 1;
      continue;
    }
    const op = /^(?:<=|>=|!=|<>|=|<|>)/.exec(rest);
    if (op) {
      out.push({ t: 'op', v: op[0] === '<>' ? '!=' : op[0] });
      i += op[0].length;
      continue;
    }
    if ('(),'.includes(rest[0])) {
      out.push({ t: 'punct', v: rest[0] });
      i++;
      continue;
    }
    throw new SoqlError(`unexpected token at "${rest.slice(0, 20)}"`);
  }
  return out;
}

/** Parses one query of the subset; throws SoqlError with Salesforce's error code. */
export function parseSoql(soql: string): SoqlQuery {
  const tokens = tokenize(soql);
  let p = 0;
  const peek = () => tokens[p];
  const keyword = (k: string) => peek()?.t === 'word' && peek().v.toUpperCase() === k;
  const expectKeyword = (k: string) => {
    if (!keyword(k)) throw new SoqlError(`expecting ${k}, found ${peek()?.v ?? 'the end'}`);
    p++;
  };
  const field = () => {
    const tok = tokens[p++];
    if (tok?.t !== 'word') throw new SoqlError(`expecting a field name, found ${tok?.v ?? 'the end'}`);
    return tok.v;
  };

  expectKeyword('SELECT');
  const fields = [field()];
  while (peek()?.v === ',') {
    p++;
    fields.push(field());
  }
  expectKeyword('FROM');
  const from = field();

  const value = (): Value => {
    const tok = tokens[p++];
    if (!tok) throw new SoqlError('expecting a value, found the end');
    if (tok.t === 'datetime') return { kind: 'datetime', ms: Date.parse(tok.v) };
    if (tok.t === 'string') return { kind: 'string', text: tok.v };
    if (tok.t === 'number') return { kind: 'number', n: Number(tok.v) };
    if (tok.t === 'word' && /^(true|false)$/i.test(tok.v)) return { kind: 'boolean', b: tok.v.toLowerCase() === 'true' };
    if (tok.t === 'word' && /^null$/i.test(tok.v)) return { kind: 'null' };
    throw new SoqlError(`expecting a value, found ${tok.v}`);
  };
  const factor = (): ((row: Row) => boolean) => {
    if (peek()?.v === '(') {
      p++;
      const inner = condition();
      if (tokens[p++]?.v !== ')') throw new SoqlError('expecting )');
      return inner;
    }
    const name = field();
    const op = tokens[p++];
    if (op?.t !== 'op') throw new SoqlError(`expecting an operator after ${name}`);
    const v = value();
    if (DATETIME_FIELDS.has(name) && v.kind !== 'datetime' && v.kind !== 'null') {
      throw new SoqlError(`value of filter criterion for field '${name}' must be of type dateTime and should not be enclosed in quotes`, 'INVALID_FIELD');
    }
    if (!DATETIME_FIELDS.has(name) && v.kind === 'datetime') throw new SoqlError(`value of filter criterion for field '${name}' must not be a dateTime`, 'INVALID_FIELD');
    const literal = v.kind === 'datetime' ? v.ms : v.kind === 'string' ? v.text : v.kind === 'number' ? v.n : v.kind === 'boolean' ? v.b : null;
    return (row) => {
      const c = compareValues(row[name], literal, name);
      if (Number.isNaN(c)) return op.v === '!=';
      return { '=': c === 0, '!=': c !== 0, '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0 }[op.v as '='];
    };
  };
  const term = (): ((row: Row) => boolean) => {
    const parts = [factor()];
    while (keyword('AND')) {
      p++;
      parts.push(factor());
    }
    return (row) => parts.every((f) => f(row));
  };
  const condition = (): ((row: Row) => boolean) => {
    const parts = [term()];
    while (keyword('OR')) {
      p++;
      parts.push(term());
    }
    return (row) => parts.some((f) => f(row));
  };

  let where: SoqlQuery['where'] = null;
  if (keyword('WHERE')) {
    p++;
    where = condition();
  }
  const orderBy: SoqlQuery['orderBy'] = [];
  if (keyword('ORDER')) {
    p++;
    expectKeyword('BY');
    do {
      if (peek()?.v === ',') p++;
      const name = field();
      let desc = false;
      if (keyword('ASC') || keyword('DESC')) desc = tokens[p++].v.toUpperCase() === 'DESC';
      orderBy.push({ field: name, desc });
    } while (peek()?.v === ',');
  }
  let limit: number | null = null;
  if (keyword('LIMIT')) {
    p++;
    const tok = tokens[p++];
    if (tok?.t !== 'number' || !/^\d+$/.test(tok.v)) throw new SoqlError('LIMIT must be a whole number');
    limit = Number(tok.v);
  }
  if (p < tokens.length) throw new SoqlError(`unexpected token: ${tokens[p].v}`);
  return { fields, from, where, orderBy, limit };
}

/**
 * Compares a row's value with another (a row's or a literal): dateTime fields by time, numbers as
 * numbers, the rest as text by code unit (Salesforce orders ids that way). NaN: one side is null.
 */
export function compareValues(a: unknown, b: unknown, fieldName: string): number {
  if (a === null || a === undefined || b === null || b === undefined) return a === b || (a == null && b == null) ? 0 : Number.NaN;
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
