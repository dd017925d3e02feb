import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { In, IsNull, type DataSource } from 'typeorm';
import { Customer } from '../customer/customer.entity.js';
import { badInput, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { requiredText, validDate } from '../shared/validation.js';
import { isDatabaseUnavailable } from '../../db/db-errors.js';
import { recordAudit } from '../../observability/audit.js';
import { ApiKey, Role } from './api-key.entity.js';
import { assignableScopes, effectiveScopes, type Scope } from './roles.js';

const PREFIX_LENGTH = 12;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** What the audit trail keeps of a key: never its hash. */
function auditedKey(key: ApiKey): Record<string, unknown> {
  return { name: key.name, role: key.role, scopes: key.scopes, customerIds: key.customerIds, expiresAt: key.expiresAt, requestsPerMinute: key.requestsPerMinute };
}

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
    expiresAt: null,
    lastUsedAt: null,
    requestsPerMinute: null,
  });
}

/** What a request may do once its key has been checked. */
export interface Principal {
  keyId: string;
  /** The key's name, for the audit trail. */
  name: string;
  role: Role;
  scopes: readonly Scope[];
  /** null: every customer; otherwise a PARTNER's grants. */
  customerIds: readonly string[] | null;
  /** The key stops working at this instant (ms since the epoch); null: never. */
  expiresAt: number | null;
  /** Requests per minute across every API process; null: no limit. */
  requestsPerMinute: number | null;
}

/** Why a presented key was refused, for the UNAUTHENTICATED message. */
export type KeyRefusal = 'unknown' | 'expired';

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  customerIds?: string[] | null;
  scopes?: string[] | null;
  expiresAt?: Date | null;
  requestsPerMinute?: number | null;
}

/** The most a key may be limited to: a million requests a minute is no limit in practice. */
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;

/** The channel on which revocations reach every process (CACHE_INVALIDATION_CHANNEL; a bare key id). */
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

  /**
   * Bumped by every revocation this process hears of (and by the listener going up or down). A
   * lookup remembers the generation it started in and is cached only if none came since: a lookup
   * that read the key before a revocation committed, and finished after the revocation was
   * forgotten here, would otherwise put the revoked key back for the whole TTL.
   */
  generation = 0;

  set(digest: string, principal: Principal, lookupGeneration: number): void {
    if (!this.enabled || lookupGeneration !== this.generation) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(digest, { principal, until: Date.now() + this.ttlMs });
  }

  forgetKey(keyId: string): void {
    this.generation++;
    for (const [digest, entry] of this.entries) if (entry.principal.keyId === keyId) this.entries.delete(digest);
    for (const [digest, entry] of this.lastVerified) if (entry.principal.keyId === keyId) this.lastVerified.delete(digest);
  }

  /**
   * Keys this process last checked against the database, for ten minutes, whatever the listener's
   * state: consulted only when the database cannot answer, and only by callers that ask (the
   * /metrics scrape, so an outage can be watched). A revocation heard here removes its key; one
   * cannot be committed while the database is down.
   */
  private readonly lastVerified = new Map<string, { principal: Principal; until: number }>();

  remember(digest: string, principal: Principal): void {
    if (this.lastVerified.size >= this.maxEntries) this.lastVerified.clear();
    this.lastVerified.set(digest, { principal, until: Date.now() + 10 * 60_000 });
  }

  recalled(digest: string): Principal | undefined {
    const hit = this.lastVerified.get(digest);
    return hit && hit.until > Date.now() ? hit.principal : undefined;
  }

  setEnabled(enabled: boolean): void {
    this.generation++;
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
      name: key.name,
      role: key.role,
      scopes: effectiveScopes(key.role, key.scopes),
      customerIds: key.role === Role.PARTNER ? key.customerIds : null,
      expiresAt: key.expiresAt ? key.expiresAt.getTime() : null,
      requestsPerMinute: key.requestsPerMinute,
    };
  }

  /** Keys that are not revoked with this public prefix (one, but for a prefix collision). */
  protected findCandidates(prefix: string): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).find({ where: { prefix, revokedAt: IsNull() } });
  }

  /**
   * Finds the key by its public prefix, then compares SHA-256 digests in constant time. An
   * expired key is refused like an unknown one (the refusal says which). Principals are cached
   * for a minute while revocations can reach this process (see PrincipalCache).
   */
  async authenticate(presented: string): Promise<Principal | null> {
    return (await this.check(presented)).principal;
  }

  async check(presented: string, options: { whenUnavailable?: 'recall' } = {}): Promise<{ principal: Principal; refusal: null } | { principal: null; refusal: KeyRefusal }> {
    if (presented.length < 24 || presented.length > 256) return { principal: null, refusal: 'unknown' };
    const cacheKey = hashKey(presented).toString('base64');
    let principal = this.cache.get(cacheKey) ?? null;
    if (!principal) {
      const generation = this.cache.generation;
      let candidates: ApiKey[];
      try {
        candidates = await this.findCandidates(prefixOf(presented));
      } catch (err) {
        const recalled = options.whenUnavailable === 'recall' && isDatabaseUnavailable(err) ? this.cache.recalled(cacheKey) : undefined;
        if (!recalled) throw err;
        candidates = [];
        principal = recalled;
      }
      const digest = hashKey(presented);
      let match: ApiKey | null = null;
      for (const candidate of candidates) {
        if (timingSafeEqual(candidate.hash, digest)) match = candidate;
      }
      if (!principal) {
        if (!match) return { principal: null, refusal: 'unknown' };
        principal = ApiKeyService.principalOf(match);
        this.cache.set(cacheKey, principal, generation);
        this.cache.remember(cacheKey, principal);
      }
    }
    if (principal.expiresAt !== null && principal.expiresAt <= Date.now()) return { principal: null, refusal: 'expired' };
    this.lastUsed.set(principal.keyId, Date.now());
    return { principal, refusal: null };
  }

  /** Last use per key since the last flush: written once a minute, not once per request. */
  private readonly lastUsed = new Map<string, number>();

  /** Writes the last use of every key used since the previous flush, in one statement. */
  async flushUsage(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const entries = [...this.lastUsed];
    this.lastUsed.clear();
    await this.db.query(
      `UPDATE api_key k SET last_used_at = u.at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
        WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
      [entries.map(([id]) => id), entries.map(([, at]) => new Date(at))],
    );
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
    const expiresAt = validDate(input.expiresAt, 'expiresAt');
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw badInput('expiresAt', 'expiresAt must be in the future');
    const perMinute = input.requestsPerMinute ?? null;
    if (perMinute !== null && (!Number.isInteger(perMinute) || perMinute < 1 || perMinute > MAX_REQUESTS_PER_MINUTE)) {
      throw badInput('requestsPerMinute', `requestsPerMinute must be a whole number from 1 to ${MAX_REQUESTS_PER_MINUTE}`);
    }
    const key = generateKey();
    const apiKey = await this.db.transaction(async (tx) => {
      if (customerIds.length > 0) {
        const found = await tx.getRepository(Customer).countBy({ id: In(customerIds) });
        if (found !== customerIds.length) throw badInput('customerIds', 'customerIds names a customer that does not exist');
      }
      const row = Object.assign(keyRow(key, name, input.role, scopes, customerIds), { expiresAt, requestsPerMinute: perMinute });
      const saved = await tx.getRepository(ApiKey).save(row);
      await recordAudit(tx, { action: 'createApiKey', targetType: 'ApiKey', targetId: saved.id, after: auditedKey(saved) });
      return saved;
    });
    return { key, apiKey };
  }

  /**
   * The revocation and its notification commit together: once revokeApiKey answers, no process
   * can still be told the key is fine (this one forgets it at once; the others on the
   * notification, and a lookup that overlapped it is not cached).
   */
  async revoke(id: string): Promise<ApiKey> {
    const key = await this.db.transaction(async (tx) => {
      const repo = tx.getRepository(ApiKey);
      const row = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!row) throw notFound('ApiKey');
      if (!row.revokedAt) {
        row.revokedAt = new Date();
        await repo.save(row);
        await recordAudit(tx, { action: 'revokeApiKey', targetType: 'ApiKey', targetId: row.id, before: { revokedAt: null }, after: { revokedAt: row.revokedAt } });
      }
      await tx.query(`SELECT pg_notify($1, $2)`, [REVOCATION_CHANNEL, row.id]);
      return row;
    });
    this.cache.forgetKey(key.id);
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
