import { describe, expect, it } from 'vitest';
import { parseSoql, SoqlError } from '../../src/providers/salesforce/soql.js';
import { pageSoql, restMillis, soqlDateTime } from '../../src/providers/salesforce/poller.js';

const rows = [
  { Id: '001A00000000001AAA', SystemModstamp: '2026-01-01T00:00:00.000Z', Name: 'a' },
  { Id: '001A00000000002AAA', SystemModstamp: '2026-01-01T00:00:01.000Z', Name: 'b' },
  { Id: '001A00000000003AAA', SystemModstamp: '2026-01-01T00:00:01.000Z', Name: 'c' },
  { Id: '001a00000000004AAA', SystemModstamp: '2026-01-01T00:00:01.000Z', Name: 'd' },
  { Id: '001A00000000005AAA', SystemModstamp: '2026-01-01T00:00:02.000Z', Name: 'e' },
];
const select = (soql: string) => {
  const q = parseSoql(soql);
  return rows.filter((r) => q.where === null || q.where(r)).map((r) => r.Name);
};
const accounts = { sObject: 'Account', entity: 'Customer', fields: ['Id', 'Name', 'Phone', 'Switchboard_Id__c', 'SystemModstamp'] } as const;

describe('the SOQL the poller sends, as the fake parses it (soql-parser-js, then the subset it answers)', () => {
  it('the keyset query reads after (SystemModstamp, Id): later seconds, and later ids of the same second (ids compare by code unit)', () => {
    const soql = pageSoql(accounts, Date.parse('2026-01-01T00:00:01Z'), '001A00000000002AAA');
    expect(soql).toBe(
      "SELECT Id, Name, Phone, Switchboard_Id__c, SystemModstamp FROM Account WHERE SystemModstamp > 2026-01-01T00:00:01Z OR (SystemModstamp = 2026-01-01T00:00:01Z AND Id > '001A00000000002AAA') ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000",
    );
    expect(select(soql)).toEqual(['c', 'd', 'e']);
    const q = parseSoql(soql);
    expect(q).toMatchObject({ fields: ['Id', 'Name', 'Phone', 'Switchboard_Id__c', 'SystemModstamp'], from: 'Account', orderBy: [{ field: 'SystemModstamp', desc: false }, { field: 'Id', desc: false }], limit: 2000 });
    expect(select(pageSoql(accounts, Date.parse('2026-01-01T00:00:01Z'), ''))).toEqual(['b', 'c', 'd', 'e']);
    expect(pageSoql(accounts, null, '')).not.toContain('WHERE');
  });

  it('NOT binds tighter than AND, AND than OR; parentheses, offsets, milliseconds and escaped quotes are read', () => {
    expect(select("SELECT Id FROM Account WHERE Id = '001A00000000005AAA' OR SystemModstamp > 2026-01-01T00:00:01Z AND Id != '001A00000000005AAA'")).toEqual(['e']);
    expect(select("SELECT Id FROM Account WHERE (Id = '001A00000000005AAA' OR SystemModstamp > 2026-01-01T00:00:01Z) AND Id != '001A00000000005AAA'")).toEqual([]);
    expect(select('SELECT Id FROM Account WHERE SystemModstamp >= 2026-01-01T01:00:01+01:00')).toEqual(['b', 'c', 'd', 'e']);
    expect(select('SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01T00:00:01.500Z')).toEqual(['e']);
    expect(select("SELECT Id FROM Account WHERE Name = 'it\\'s'")).toEqual([]);
    expect(select("SELECT Id FROM Account WHERE NOT (Id = '001A00000000005AAA' OR SystemModstamp < 2026-01-01T00:00:01Z)")).toEqual(['b', 'c', 'd']);
  });

  it('what Salesforce refuses is refused: a quoted dateTime (INVALID_FIELD), a missing FROM, a bad literal, a dangling OFFSET (MALFORMED_QUERY); OFFSET the fake does not answer', () => {
    const code = (soql: string) => {
      try {
        parseSoql(soql);
        return null;
      } catch (err) {
        return (err as SoqlError).code;
      }
    };
    expect(code("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01T00:00:00Z'")).toBe('INVALID_FIELD');
    expect(code('SELECT Id Account')).toBe('MALFORMED_QUERY');
    expect(code('SELECT Id FROM Account LIMIT 10 OFFSET')).toBe('MALFORMED_QUERY');
    expect(code('SELECT Id FROM Account LIMIT 10 OFFSET 5')).toBe('MALFORMED_QUERY');
    expect(code('SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01 00:00:01Z')).toBe('MALFORMED_QUERY');
    expect(code('SELECT Id FROM Account ORDER BY SystemModstamp ASC, Id DESC LIMIT 5')).toBeNull();
  });

  it('dateTime literals are unquoted UTC, whole seconds when they have no milliseconds; REST times (+0000) are read', () => {
    expect(soqlDateTime(Date.parse('2026-12-06T03:55:19Z'))).toBe('2026-12-06T03:55:19Z');
    expect(soqlDateTime(Date.parse('2026-12-06T03:55:19.250Z'))).toBe('2026-12-06T03:55:19.250Z');
    expect(restMillis('2026-12-06T03:55:19.000+0000')).toBe(Date.parse('2026-12-06T03:55:19Z'));
  });
});
