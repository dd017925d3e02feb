import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/shared/ids.js';

describe('newId', () => {
  it('makes distinct UUIDv7s in strictly increasing order, across pool refills and within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => newId());
    for (const id of ids.slice(0, 50)) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // The timestamp is the clock's (the first 48 bits, in milliseconds).
    const ms = parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(5_000);
  });

  it('the random tails differ: the pool is not reused', () => {
    const tails = Array.from({ length: 2_000 }, () => newId().slice(-12));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
