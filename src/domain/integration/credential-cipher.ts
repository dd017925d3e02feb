import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/** A key's public name: a keyed hash of the key itself, so it says nothing about it. */
export function keyIdOf(key: Buffer): string {
  return createHmac('sha256', key).update('switchboard:encryption-key-id').digest('base64url').slice(0, 11);
}

/**
 * AES-256-GCM for provider credentials at rest. Each value gets its own 96-bit nonce; the
 * auth tag makes a tampered or wrongly keyed ciphertext fail to decrypt instead of yielding junk.
 *
 * A keyring: values are sealed with the current key and opened with whichever key sealed them,
 * so ENCRYPTION_KEY can be rotated while the gateway runs (`npm run encryption:rotate`).
 * Stored form: `v2.<key id>.<nonce>.<tag>.<ciphertext>` (base64url parts); values from before
 * key ids (`v1.<nonce>.<tag>.<ciphertext>`) are opened by trying each key.
 */
export class CredentialCipher {
  private readonly current: Buffer;
  readonly currentKeyId: string;
  private readonly keys: Map<string, Buffer>;

  /** `current` seals; `previous` keys only open (a rotation in progress). */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) if (key.length !== 32) throw new Error('the credential encryption key must be 32 bytes');
    this.current = current;
    this.currentKeyId = keyIdOf(current);
    this.keys = new Map([current, ...previous].map((k) => [keyIdOf(k), k]));
  }

  encrypt(plaintext: string, associatedData: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current, nonce);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v2', this.currentKeyId, nonce.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** The key id a stored value was sealed with (null for a v1 value, which names none). */
  static keyIdOfValue(stored: string): string | null {
    return stored.startsWith('v2.') ? stored.split('.')[1] : null;
  }

  /** True when the value is sealed with the current key (nothing for a rotation to do). */
  isCurrent(stored: string): boolean {
    return CredentialCipher.keyIdOfValue(stored) === this.currentKeyId;
  }

  decrypt(stored: string, associatedData: string): string {
    const parts = stored.split('.');
    if (parts[0] === 'v2' && parts.length === 5) {
      const key = this.keys.get(parts[1]);
      if (!key) throw new Error('the credential was sealed with a key this process does not hold (see ENCRYPTION_KEY_PREVIOUS)');
      return open(key, parts[2], parts[3], parts[4], associatedData);
    }
    if (parts[0] === 'v1' && parts.length === 4) {
      let last: unknown;
      for (const key of this.keys.values()) {
        try {
          return open(key, parts[1], parts[2], parts[3], associatedData);
        } catch (err) {
          last = err;
        }
      }
      throw last instanceof Error ? last : new Error('the credential could not be opened');
    }
    throw new Error('unrecognised credential ciphertext');
  }
}

function open(key: Buffer, nonce: string, tag: string, body: string, associatedData: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
