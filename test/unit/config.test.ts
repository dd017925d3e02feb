import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../src/config/env.js';

describe('environment schema', () => {
  it('applies the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 4000, ROLE: 'all', CORS_ORIGINS: [] });
    // Unset: the gateway picks ./.data, or a folder under /var/tmp (resolveDataDir).
    expect(env.DATA_DIR).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('FIELD_OWNERSHIP overrides the default owners, field by field', async () => {
    const { ownership } = await import('../../src/webhooks/ownership.js');
    const map = ownership(parseEnv({ FIELD_OWNERSHIP: '{"contract.status":"HUBSPOT","customer.name":"GATEWAY"}' }).FIELD_OWNERSHIP);
    expect(map).toMatchObject({ 'contract.status': 'HUBSPOT', 'customer.name': 'GATEWAY', 'customer.phone': 'HUBSPOT', 'invoice.status': 'STRIPE', 'customer.email': 'GATEWAY' });
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
    ['FIELD_OWNERSHIP', '{"customer.name":', /FIELD_OWNERSHIP: expected a JSON object/],
    ['FIELD_OWNERSHIP', '{"customer.shoeSize":"HUBSPOT"}', /FIELD_OWNERSHIP/],
    ['FIELD_OWNERSHIP', '{"customer.name":"ZENDESK"}', /FIELD_OWNERSHIP: expected an owner/],
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

describe('audit retention', () => {
  it('is never shorter than the logs it audits', async () => {
    const { auditRetentionDays } = await import('../../src/config/env.js');
    expect(auditRetentionDays(parseEnv({}))).toBe(365);
    expect(auditRetentionDays(parseEnv({ RETENTION_DAYS: '400' }))).toBe(400);
    expect(auditRetentionDays(parseEnv({ RETENTION_DAYS: '0' }))).toBe(0);
    expect(auditRetentionDays(parseEnv({ AUDIT_RETENTION_DAYS: '0' }))).toBe(0);
  });
});
