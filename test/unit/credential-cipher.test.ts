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
    const body = Buffer.from(parts[4], 'base64url');
    body[0] ^= 1;
    parts[4] = body.toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'), 'int-1:credentials')).toThrow();
    expect(() => cipher.decrypt(sealed, 'int-2:credentials')).toThrow();
    expect(() => new CredentialCipher(randomBytes(32)).decrypt(sealed, 'int-1:credentials')).toThrow();
  });

  it('opens values sealed under a previous key, and v1 values without a key id; seals only under the current key', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const old = new CredentialCipher(oldKey);
    const sealedOld = old.encrypt('secret', 'int-1:credentials');
    const ring = new CredentialCipher(newKey, [oldKey]);
    expect(ring.decrypt(sealedOld, 'int-1:credentials')).toBe('secret');
    expect(ring.isCurrent(sealedOld)).toBe(false);
    const resealed = ring.encrypt('secret', 'int-1:credentials');
    expect(ring.isCurrent(resealed)).toBe(true);
    expect(() => old.decrypt(resealed, 'int-1:credentials')).toThrow(/does not hold/);
    // A value from before key ids: v1.<nonce>.<tag>.<body>.
    const [, , nonce, tag, body] = sealedOld.split('.');
    expect(ring.decrypt(['v1', nonce, tag, body].join('.'), 'int-1:credentials')).toBe('secret');
    expect(() => new CredentialCipher(newKey).decrypt(['v1', nonce, tag, body].join('.'), 'int-1:credentials')).toThrow();
  });
});
