import { In, type DataSource } from 'typeorm';
import { PROVIDERS } from '../../providers/registry.js';
import { badInput, conflict, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { paginate, type Connection, type PageArgs } from '../shared/pagination.js';
import { requiredText } from '../shared/validation.js';
import { CredentialCipher } from './credential-cipher.js';
import { Integration, IntegrationStatus, Provider } from './integration.entity.js';
import { parseSettings } from './integration-settings.js';
import { plainHttpAllowed, refusedHost, type OutboundPolicy } from '../../http/outbound-policy.js';
import { recordAudit } from '../../observability/audit.js';

/**
 * Changes cached copies must not outlive: `<key id>` (an API key revoked) or `integration:<id>`
 * (an integration changed). The channel's name predates integrations on it.
 */
export const CACHE_INVALIDATION_CHANNEL = 'switchboard_api_key_revoked';

export interface CreateIntegrationInput {
  provider: Provider;
  name: string;
  baseUrl: string;
  credentials?: unknown;
  webhookSecret?: string | null;
  settings?: unknown;
  autoSync?: string[] | null;
  /** GENERIC: how each operation calls the integration's API (src/providers/generic/mappings.ts). */
  mappings?: unknown;
}

export interface UpdateIntegrationInput {
  name?: string | null;
  baseUrl?: string | null;
  credentials?: unknown;
  settings?: unknown;
  autoSync?: string[] | null;
  /** Replaces the mappings; null drops them. */
  mappings?: unknown;
}

/** How long the previous webhook secret keeps verifying after a rotation, unless the rotation says otherwise. */
export const SECRET_ROTATION_GRACE_SECONDS = 24 * 60 * 60;
/** The longest grace a rotation may give the previous secret. */
export const MAX_SECRET_ROTATION_GRACE_SECONDS = 7 * 24 * 60 * 60;

/**
 * A provider base URL: https (plain http only to loopback, and only where the outbound policy
 * allows loopback), no credentials, query or fragment, and no host the policy refuses (a literal
 * private, link-local, metadata or reserved address in any spelling, a loopback or metadata
 * name). Hostnames are checked again when connecting (outbound-policy.ts).
 */
export function validateBaseUrl(value: string, policy: Pick<OutboundPolicy, 'allowLoopback'>, field = 'baseUrl'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(field, `${field} is not a valid URL`);
  }
  if (url.username || url.password) throw badInput(field, `${field} must not carry credentials; use credentials instead`);
  if (url.search || url.hash) throw badInput(field, `${field} must not have a query or fragment`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && plainHttpAllowed(url, policy))) {
    throw badInput(field, `${field} must use https://${policy.allowLoopback ? ' (plain http:// is allowed only for loopback hosts)' : ''}`);
  }
  const refused = refusedHost(url, policy);
  if (refused) throw badInput(field, `${field} ${refused}`);
  return url.toString().replace(/\/$/, '');
}

function validateCredentials(provider: Provider, raw: unknown): Record<string, unknown> {
  const keys = PROVIDERS[provider].credentialKeys;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badInput('credentials', `credentials must be an object with ${keys.join(', ')}`);
  }
  const entries = Object.entries(raw);
  for (const [key, value] of entries) {
    if (!keys.includes(key)) throw badInput(`credentials.${key}`, `${provider} credentials take only ${keys.join(', ')}`);
    if (key === 'headers') {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw badInput('credentials.headers', 'credentials.headers must map header names to string values');
      }
      for (const [name, v] of Object.entries(value as Record<string, string>)) {
        // An HTTP token, not one the connection itself sets; no line breaks in a value.
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
          throw badInput(`credentials.headers.${name}`, `"${name}" cannot be a configured header (not a header name, or one the gateway sets: ${[...RESERVED_HEADERS].join(', ')})`);
        }
        if (/[\r\n\0]/.test(v) || v.length > 8192) throw badInput(`credentials.headers.${name}`, `credentials.headers.${name} must be one line of at most 8192 characters`);
      }
    } else if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
      throw badInput(`credentials.${key}`, `credentials.${key} must be a non-empty string`);
    }
  }
  const missing = keys.find((k) => !(k in raw));
  if (missing) throw badInput(`credentials.${missing}`, `credentials.${missing} is required for ${provider}`);
  return raw as Record<string, unknown>;
}

/** Headers a connection sets itself: never taken from configuration. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'expect']);

/**
 * Entities the provider can auto-sync; for a provider called through mappings (GENERIC), only
 * those whose operation the integration maps.
 */
function validateAutoSync(provider: Provider, entities: string[] | null | undefined, mappings: Record<string, unknown> | null): string[] {
  const module = PROVIDERS[provider];
  const supported = Object.entries(module.autoSync)
    .filter(([, operation]) => !module.parseMappings || (mappings !== null && operation in mappings))
    .map(([entity]) => entity);
  const list = [...new Set(entities ?? [])];
  const refused = list.find((e) => !supported.includes(e));
  if (refused) {
    const operation = (module.autoSync as Record<string, string>)[refused];
    if (module.parseMappings && operation) throw badInput('autoSync', `${provider} auto-syncs ${refused} only with a mapping for ${operation}`);
    throw badInput('autoSync', `${provider} cannot auto-sync ${refused}${supported.length ? `; it syncs ${supported.join(', ')}` : ''}`);
  }
  return list;
}

/** Mappings for a provider that takes them (validated: BAD_USER_INPUT naming the operation); null when none are given. */
async function parseMappings(provider: Provider, raw: unknown): Promise<Record<string, unknown> | null> {
  if (raw === undefined || raw === null) return null;
  const parse = PROVIDERS[provider].parseMappings;
  if (!parse) throw badInput('mappings', `${provider} integrations take no mappings (only GENERIC ones are called through mappings)`);
  return parse(raw);
}

/** What is stored for the webhookSecret an operator gives: the provider's own form where it makes one (Salesforce), else the secret. */
function issueWebhookSecret(provider: Provider, value: string): string {
  const urlSecret = PROVIDERS[provider].webhookUrlSecret;
  return urlSecret ? urlSecret.issue(value) : validateSecret(value);
}

function validateSecret(value: string, field = 'webhookSecret'): string {
  const secret = value.trim();
  if (secret.length < 8 || secret.length > 8192) throw badInput(field, `${field} must be 8 to 8192 characters`);
  return secret;
}

/**
 * What the audit trail keeps of an integration: never a secret, only whether one is set and a
 * fingerprint-free marker that it changed (`credentialsVersion` moves with every new ciphertext).
 */
function audited(i: Integration): Record<string, unknown> {
  return {
    name: i.name,
    provider: i.provider,
    status: i.status,
    baseUrl: i.baseUrl,
    settings: i.settings,
    autoSync: i.autoSync,
    mappings: i.mappings,
    hasCredentials: i.credentialsEncrypted !== null,
    credentialsReplaced: false,
    hasWebhookSecret: i.webhookSecretEncrypted !== null,
    previousSecretExpiresAt: i.previousSecretExpiresAt,
  };
}

export class IntegrationService {
  constructor(
    private readonly db: DataSource,
    private readonly cipher: CredentialCipher,
    private readonly outboundPolicy: Pick<OutboundPolicy, 'allowLoopback'>,
  ) {}

  private seal(integrationId: string, field: string, plaintext: string): string {
    return this.cipher.encrypt(plaintext, `${integrationId}:${field}`);
  }

  /**
   * Decrypted credentials, for connectors only; never for a resolver. Kept with the integration
   * object they came from (while its ciphertext is unchanged): the worker runs every job of an
   * integration on the object it loaded, and decrypting per job cost 1.6% of its CPU.
   */
  credentialsOf(integration: Integration): Readonly<Record<string, unknown>> | null {
    const stored = integration.credentialsEncrypted;
    if (!stored) return null;
    const opened = this.opened.get(integration);
    if (opened?.stored === stored) return opened.credentials;
    const credentials = Object.freeze(JSON.parse(this.cipher.decrypt(stored, `${integration.id}:credentials`)) as Record<string, unknown>);
    this.opened.set(integration, { stored, credentials });
    return credentials;
  }

  private readonly opened = new WeakMap<Integration, { stored: string; credentials: Readonly<Record<string, unknown>> }>();

  /** The secrets that verify a webhook now: the current one, and the previous one inside its grace window. */
  webhookSecretsOf(integration: Integration, now = new Date()): string[] {
    const secrets: string[] = [];
    if (integration.webhookSecretEncrypted) {
      secrets.push(this.cipher.decrypt(integration.webhookSecretEncrypted, `${integration.id}:webhookSecret`));
    }
    if (integration.previousWebhookSecretEncrypted && integration.previousSecretExpiresAt && integration.previousSecretExpiresAt > now) {
      secrets.push(this.cipher.decrypt(integration.previousWebhookSecretEncrypted, `${integration.id}:webhookSecret`));
    }
    return secrets;
  }

  /**
   * What the webhook URL carries after the integration's id: for a provider that does not sign
   * (Salesforce), `?token=` of the current secret; else nothing. For resolvers of webhookUrl.
   */
  webhookUrlQuery(integration: Integration): string {
    const urlSecret = PROVIDERS[integration.provider]?.webhookUrlSecret;
    if (!urlSecret || !integration.webhookSecretEncrypted) return '';
    return urlSecret.urlQuery(this.cipher.decrypt(integration.webhookSecretEncrypted, `${integration.id}:webhookSecret`));
  }

  async create(input: CreateIntegrationInput): Promise<Integration> {
    if (!PROVIDERS[input.provider]) throw badInput('provider', 'provider is not supported');
    const mappings = await parseMappings(input.provider, input.mappings);
    const id = newId();
    const integration = this.db.getRepository(Integration).create({
      id,
      provider: input.provider,
      name: requiredText(input.name, 'name', 200),
      status: IntegrationStatus.ACTIVE,
      baseUrl: validateBaseUrl(input.baseUrl, this.outboundPolicy),
      settings: parseSettings(input.settings),
      credentialsEncrypted:
        input.credentials == null ? null : this.seal(id, 'credentials', JSON.stringify(validateCredentials(input.provider, input.credentials))),
      webhookSecretEncrypted: input.webhookSecret ? this.seal(id, 'webhookSecret', issueWebhookSecret(input.provider, input.webhookSecret)) : null,
      previousWebhookSecretEncrypted: null,
      previousSecretExpiresAt: null,
      autoSync: validateAutoSync(input.provider, input.autoSync, mappings),
      mappings,
      version: 1,
    });
    return this.db.transaction(async (tx) => {
      const saved = await tx.save(integration);
      await recordAudit(tx, { action: 'createIntegration', targetType: 'Integration', targetId: saved.id, after: audited(saved) });
      return saved;
    });
  }

  /** Called with an integration's id once a change to it has committed (this process's caches). */
  private readonly changeListeners: Array<(id: string) => void> = [];

  onChange(listener: (id: string) => void): void {
    this.changeListeners.push(listener);
  }

  private async change(id: string, action: string, mutate: (i: Integration) => Record<string, unknown> | void): Promise<Integration> {
    const saved = await this.commitChange(id, action, mutate);
    // Other processes hear the NOTIFY; this one drops its copies before the mutation answers, so
    // a request that follows the answer (an old secret after a rotation without grace) sees it.
    for (const listener of this.changeListeners) listener(id);
    return saved;
  }

  private async commitChange(id: string, action: string, mutate: (i: Integration) => Record<string, unknown> | void): Promise<Integration> {
    return this.db.transaction(async (tx) => {
      const integration = await tx.findOne(Integration, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!integration) throw notFound('Integration');
      const before = audited(integration);
      const credentialsBefore = integration.credentialsEncrypted;
      const details = mutate(integration) ?? undefined;
      integration.version += 1;
      const saved = await tx.save(integration);
      await recordAudit(tx, {
        action,
        targetType: 'Integration',
        targetId: id,
        before,
        after: { ...audited(saved), credentialsReplaced: saved.credentialsEncrypted !== credentialsBefore },
        details,
      });
      // Delivered with the commit: every API process drops its cached copy (secrets included).
      await tx.query('SELECT pg_notify($1, $2)', [CACHE_INVALIDATION_CHANNEL, `integration:${id}`]);
      return saved;
    });
  }

  async update(id: string, input: UpdateIntegrationInput): Promise<Integration> {
    const settings = input.settings === undefined ? undefined : parseSettings(input.settings);
    // Validated before the transaction (expressions are tried on sample records); the provider
    // cannot change, so reading it first is safe.
    const mappings = input.mappings === undefined ? undefined : await parseMappings((await this.get(id)).provider, input.mappings);
    return this.change(id, 'updateIntegration', (integration) => {
      if (input.name != null) integration.name = requiredText(input.name, 'name', 200);
      if (input.baseUrl != null) {
        const baseUrl = validateBaseUrl(input.baseUrl, this.outboundPolicy);
        // Credentials were entered for one host: they never follow the integration to another.
        if (new URL(baseUrl).origin !== new URL(integration.baseUrl).origin && integration.credentialsEncrypted !== null && input.credentials === undefined) {
          throw badInput(
            'credentials',
            'a change of baseUrl to another host needs the credentials again in the same call (or credentials: null to drop them); stored credentials never go to a new host',
          );
        }
        integration.baseUrl = baseUrl;
      }
      if (settings !== undefined) integration.settings = settings;
      if (mappings !== undefined) integration.mappings = mappings;
      // Dropping a mapping that auto-sync uses is refused as well as adding auto-sync without one.
      if (input.autoSync != null || mappings !== undefined) integration.autoSync = validateAutoSync(integration.provider, input.autoSync ?? integration.autoSync, integration.mappings);
      if (input.credentials !== undefined) {
        integration.credentialsEncrypted =
          input.credentials === null
            ? null
            : this.seal(id, 'credentials', JSON.stringify(validateCredentials(integration.provider, input.credentials)));
      }
    });
  }

  /**
   * New webhook secret; the old one keeps verifying for `graceSeconds` (default a day; 0 cuts a
   * leaked secret off at once, in every process: the change is announced with its commit).
   */
  async rotateSecret(id: string, webhookSecret: string, graceSeconds: number | null = SECRET_ROTATION_GRACE_SECONDS): Promise<Integration> {
    const grace = graceSeconds ?? SECRET_ROTATION_GRACE_SECONDS;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_SECRET_ROTATION_GRACE_SECONDS) {
      throw badInput('graceSeconds', `graceSeconds must be a whole number from 0 to ${MAX_SECRET_ROTATION_GRACE_SECONDS} (7 days)`);
    }
    return this.change(id, 'rotateIntegrationSecret', (integration) => {
      integration.previousWebhookSecretEncrypted = grace > 0 ? integration.webhookSecretEncrypted : null;
      integration.previousSecretExpiresAt = grace > 0 && integration.webhookSecretEncrypted ? new Date(Date.now() + grace * 1000) : null;
      // Salesforce: the organisation id, and a new URL token (the previous URL works for the grace).
      integration.webhookSecretEncrypted = this.seal(id, 'webhookSecret', issueWebhookSecret(integration.provider, webhookSecret));
      return { graceSeconds: grace };
    });
  }

  async setStatus(id: string, status: IntegrationStatus.ACTIVE | IntegrationStatus.PAUSED): Promise<Integration> {
    return this.change(id, status === IntegrationStatus.PAUSED ? 'pauseIntegration' : 'resumeIntegration', (integration) => {
      if (integration.status === IntegrationStatus.DISABLED) throw conflict('A disabled integration cannot be paused or resumed');
      integration.status = status;
    });
  }

  async get(id: string): Promise<Integration> {
    const integration = await this.db.getRepository(Integration).findOneBy({ id });
    if (!integration) throw notFound('Integration');
    return integration;
  }

  async findByIds(ids: readonly string[]): Promise<Integration[]> {
    return this.db.getRepository(Integration).findBy({ id: In([...ids]) });
  }

  async list(filter: { provider?: Provider | null; status?: IntegrationStatus | null }, page: PageArgs): Promise<Connection<Integration>> {
    const qb = this.db.getRepository(Integration).createQueryBuilder('n');
    if (filter.provider) qb.andWhere('n.provider = :provider', { provider: filter.provider });
    if (filter.status) qb.andWhere('n.status = :status', { status: filter.status });
    return paginate(qb, page);
  }
}
