import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { In, IsNull, type DataSource } from 'typeorm';
import { Customer } from '../customer/customer.entity.js';
import { badInput, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { requiredText } from '../shared/validation.js';
import { ApiKey, Role } from './api-key.entity.js';
import { assignableScopes, effectiveScopes, type Scope } from './roles.js';

const PREFIX_LENGTH = 12;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniform random base62, by rejection sampling (no modulo bias). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

const hashKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();
const prefixOf = (key: string): string => key.slice(0, PREFIX_LENGTH);
const generateKey = (): string => `sb_${randomBase62(9)}_${randomBase62(32)}`;

function keyRow(key: string, name: string, role: Role, scopes: string[] = [], customerIds: string[] = []): ApiKey {
  return Object.assign(new ApiKey(), {
    id: newId(),
    name,
    role,
    prefix: prefixOf(key),
    hash: hashKey(key),
    scopes,
    customerIds,
    revokedAt: null,
  });
}

/** What a request may do once its key has been checked. */
export interface Principal {
  keyId: string;
  role: Role;
  scopes: readonly Scope[];
  /** null: every customer; otherwise a PARTNER's grants. */
  customerIds: readonly string[] | null;
}

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  customerIds?: string[] | null;
  scopes?: string[] | null;
}

/** The channel on which revocations reach every process. */
export const REVOCATION_CHANNEL = 'switchboard_api_key_revoked';

/**
 * Principals of recently used keys, by key digest. Only used while a revocation listener is
 * connected (see `listen` in src/pubsub): a revocation in any process removes the key here, and
 * a lost listener empties and disables the cache until it is back.
 */
class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();
  enabled = false;

  constructor(private readonly ttlMs = 60_000, private readonly maxEntries = 10_000) {}

  get(digest: string): Principal | undefined {
    if (!this.enabled) return undefined;
    const hit = this.entries.get(digest);
    if (!hit || hit.until < Date.now()) return undefined;
    return hit.principal;
  }

  set(digest: string, principal: Principal): void {
    if (!this.enabled) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(digest, { principal, until: Date.now() + this.ttlMs });
  }

  forgetKey(keyId: string): void {
    for (const [digest, entry] of this.entries) if (entry.principal.keyId === keyId) this.entries.delete(digest);
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    this.entries.clear();
  }
}

export class ApiKeyService {
  /** Disabled until the gateway connects its revocation listener. */
  readonly cache = new PrincipalCache();

  constructor(private readonly db: DataSource) {}

  static principalOf(key: ApiKey): Principal {
    return {
      keyId: key.id,
      role: key.role,
      scopes: effectiveScopes(key.role, key.scopes),
      customerIds: key.role === Role.PARTNER ? key.customerIds : null,
    };
  }

  /**
   * Finds the key by its public prefix, then compares SHA-256 digests in constant time.
   * A revoked key stops working on the next request: nothing is cached.
   */
  async authenticate(presented: string): Promise<Principal | null> {
    if (presented.length < 24 || presented.length > 256) return null;
    const cacheKey = hashKey(presented).toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const candidates = await this.db.getRepository(ApiKey).find({
      where: { prefix: prefixOf(presented), revokedAt: IsNull() },
    });
    const digest = hashKey(presented);
    let match: ApiKey | null = null;
    for (const candidate of candidates) {
      if (timingSafeEqual(candidate.hash, digest)) match = candidate;
    }
    if (!match) return null;
    const principal = ApiKeyService.principalOf(match);
    this.cache.set(cacheKey, principal);
    return principal;
  }

  async create(input: CreateApiKeyInput): Promise<{ key: string; apiKey: ApiKey }> {
    const name = requiredText(input.name, 'name', 200);
    const customerIds = [...new Set(input.customerIds ?? [])];
    if (input.role !== Role.PARTNER && customerIds.length > 0) {
      throw badInput('customerIds', 'customerIds (grants) apply to PARTNER keys only');
    }
    const allowed = assignableScopes(input.role) as readonly string[];
    const scopes = [...new Set(input.scopes ?? [])];
    const refused = scopes.find((s) => !allowed.includes(s));
    if (refused) throw badInput('scopes', `a ${input.role} key cannot hold "${refused}"; it may hold: ${allowed.join(', ')}`);
    if (customerIds.length > 0) {
      const found = await this.db.getRepository(Customer).countBy({ id: In(customerIds) });
      if (found !== customerIds.length) throw badInput('customerIds', 'customerIds names a customer that does not exist');
    }
    const key = generateKey();
    const apiKey = await this.db.getRepository(ApiKey).save(keyRow(key, name, input.role, scopes, customerIds));
    return { key, apiKey };
  }

  async revoke(id: string): Promise<ApiKey> {
    const repo = this.db.getRepository(ApiKey);
    const key = await repo.findOneBy({ id });
    if (!key) throw notFound('ApiKey');
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await repo.save(key);
    }
    // This process forgets it now; the others when the notification arrives.
    this.cache.forgetKey(key.id);
    await this.db.query(`SELECT pg_notify($1, $2)`, [REVOCATION_CHANNEL, key.id]);
    return key;
  }

  async findByIds(ids: readonly string[]): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).findBy({ id: In([...ids]) });
  }

  async list(): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).find({ order: { id: 'ASC' } });
  }

  /**
   * Start-up: with ADMIN_API_KEY, make sure that exact key exists; on an empty key table,
   * generate one admin key and return it (to be printed once). Serialised by an advisory lock
   * so that processes starting together make one key.
   */
  async ensureAdminKey(configured: string | undefined): Promise<string | null> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:admin-key'))`);
      const repo = tx.getRepository(ApiKey);
      if (configured) {
        const existing = await repo.findOneBy({ hash: hashKey(configured) });
        if (existing?.revokedAt) {
          throw new Error('ADMIN_API_KEY names a key that was revoked; set a new value (a revoked key is never revived)');
        }
        if (existing && existing.role !== Role.ADMIN) throw new Error('ADMIN_API_KEY names an existing key that is not an ADMIN key');
        if (!existing) await repo.save(keyRow(configured, 'ADMIN_API_KEY', Role.ADMIN));
        return null;
      }
      if ((await repo.count()) > 0) return null;
      const key = generateKey();
      await repo.save(keyRow(key, 'bootstrap admin', Role.ADMIN));
      return key;
    });
  }
}
