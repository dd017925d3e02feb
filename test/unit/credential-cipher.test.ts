import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialCipher } from '../../src/domain/integration/credential-cipher.js';

describe('credential cipher (AES-256-GCM)', () => {
  const cipher = new CredentialCipher(randomBytes(32));

  it('round-trips and never stores the plaintext', () => {
    const sealed = cipher.encrypt('sk_test_secret_value', 'int-1:credentials');
    expect(sealed).not.toContain('sk_test_secret_value');
    expect(cipher.decrypt(sealed, 'int-1:credentials')).toBe('sk_test_secret_value');
  });

  it('uses a fresh nonce for each value', () => {
    expect(cipher.encrypt('same', 'a')).not.toBe(cipher.encrypt('same', 'a'));
  });

  it('fails on tampering, on another record, and under another key', () => {
    const sealed = cipher.encrypt('secret', 'int-1:credentials');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3], 'base64url');
    body[0] ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'), 'int-1:credentials')).toThrow();
    expect(() => cipher.decrypt(sealed, 'int-2:credentials')).toThrow();
    expect(() => new CredentialCipher(randomBytes(32)).decrypt(sealed, 'int-1:credentials')).toThrow();
  });
});
