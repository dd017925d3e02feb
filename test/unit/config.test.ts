import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../src/config/env.js';

describe('environment schema', () => {
  it('applies the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 4000, ROLE: 'all', CORS_ORIGINS: [], DATA_DIR: '.data' });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('parses CORS_ORIGINS as a list', () => {
    expect(parseEnv({ CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual([
      'https://a.example.com',
      'http://localhost:5173',
    ]);
  });

  it.each([
    ['PORT', 'eighty', /PORT/],
    ['ROLE', 'everything', /ROLE/],
    ['ENCRYPTION_KEY', 'c2hvcnQ=', /ENCRYPTION_KEY: expected a base64 string that decodes to exactly 32 bytes/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a postgres/],
    ['CORS_ORIGINS', 'https://a.example.com/path', /CORS_ORIGINS/],
  ])('a bad %s names the variable and what it expects', (name, value, message) => {
    let error: unknown;
    try {
      parseEnv({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
