import { isIP } from 'node:net';
import { In, type DataSource } from 'typeorm';
import { PROVIDERS } from '../../connectors/registry.js';
import { badInput, conflict, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { paginate, type Connection, type PageArgs } from '../shared/pagination.js';
import { requiredText } from '../shared/validation.js';
import { CredentialCipher } from './credential-cipher.js';
import { Integration, IntegrationStatus, Provider } from './integration.entity.js';
import { parseSettings } from './integration-settings.js';

export interface CreateIntegrationInput {
  provider: Provider;
  name: string;
  baseUrl: string;
  credentials?: unknown;
  webhookSecret?: string | null;
  settings?: unknown;
  autoSync?: string[] | null;
}

export interface UpdateIntegrationInput {
  name?: string | null;
  baseUrl?: string | null;
  credentials?: unknown;
  settings?: unknown;
  autoSync?: string[] | null;
}

/** How long the previous webhook secret keeps verifying after a rotation. */
export const SECRET_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** https only, except loopback hosts (local sandboxes and tests). No credentials in the URL. */
export function validateBaseUrl(value: string, field = 'baseUrl'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(field, `${field} is not a valid URL`);
  }
  if (url.username || url.password) throw badInput(field, `${field} must not carry credentials; use credentials instead`);
  if (url.search || url.hash) throw badInput(field, `${field} must not have a query or fragment`);
  if (url.protocol === 'https:') return url.toString().replace(/\/$/, '');
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url.toString().replace(/\/$/, '');
  throw badInput(field, `${field} must use https:// (plain http:// is allowed only for loopback hosts)`);
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
    } else if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
      throw badInput(`credentials.${key}`, `credentials.${key} must be a non-empty string`);
    }
  }
  const missing = keys.find((k) => !(k in raw));
  if (missing) throw badInput(`credentials.${missing}`, `credentials.${missing} is required for ${provider}`);
  return raw as Record<string, unknown>;
}

function validateAutoSync(provider: Provider, entities: string[] | null | undefined): string[] {
  const supported = Object.keys(PROVIDERS[provider].autoSync);
  const list = [...new Set(entities ?? [])];
  const refused = list.find((e) => !supported.includes(e));
  if (refused) throw badInput('autoSync', `${provider} cannot auto-sync ${refused}${supported.length ? `; it syncs ${supported.join(', ')}` : ''}`);
  return list;
}

function validateSecret(value: string, field = 'webhookSecret'): string {
  const secret = value.trim();
  if (secret.length < 8 || secret.length > 8192) throw badInput(field, `${field} must be 8 to 8192 characters`);
  return secret;
}

export class IntegrationService {
  constructor(
    private readonly db: DataSource,
    private readonly cipher: CredentialCipher,
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

  async create(input: CreateIntegrationInput): Promise<Integration> {
    if (!PROVIDERS[input.provider]) throw badInput('provider', 'provider is not supported');
    const id = newId();
    const integration = this.db.getRepository(Integration).create({
      id,
      provider: input.provider,
      name: requiredText(input.name, 'name', 200),
      status: IntegrationStatus.ACTIVE,
      baseUrl: validateBaseUrl(input.baseUrl),
      settings: parseSettings(input.settings),
      credentialsEncrypted:
        input.credentials == null ? null : this.seal(id, 'credentials', JSON.stringify(validateCredentials(input.provider, input.credentials))),
      webhookSecretEncrypted: input.webhookSecret ? this.seal(id, 'webhookSecret', validateSecret(input.webhookSecret)) : null,
      previousWebhookSecretEncrypted: null,
      previousSecretExpiresAt: null,
      autoSync: validateAutoSync(input.provider, input.autoSync),
      version: 1,
    });
    return this.db.getRepository(Integration).save(integration);
  }

  private async change(id: string, mutate: (i: Integration) => void): Promise<Integration> {
    return this.db.transaction(async (tx) => {
      const integration = await tx.findOne(Integration, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!integration) throw notFound('Integration');
      mutate(integration);
      integration.version += 1;
      return tx.save(integration);
    });
  }

  async update(id: string, input: UpdateIntegrationInput): Promise<Integration> {
    const settings = input.settings === undefined ? undefined : parseSettings(input.settings);
    return this.change(id, (integration) => {
      if (input.name != null) integration.name = requiredText(input.name, 'name', 200);
      if (input.baseUrl != null) integration.baseUrl = validateBaseUrl(input.baseUrl);
      if (settings !== undefined) integration.settings = settings;
      if (input.autoSync != null) integration.autoSync = validateAutoSync(integration.provider, input.autoSync);
      if (input.credentials !== undefined) {
        integration.credentialsEncrypted =
          input.credentials === null
            ? null
            : this.seal(id, 'credentials', JSON.stringify(validateCredentials(integration.provider, input.credentials)));
      }
    });
  }

  /** New webhook secret; the old one keeps verifying for SECRET_ROTATION_GRACE_MS. */
  async rotateSecret(id: string, webhookSecret: string, graceMs = SECRET_ROTATION_GRACE_MS): Promise<Integration> {
    const secret = validateSecret(webhookSecret);
    return this.change(id, (integration) => {
      integration.previousWebhookSecretEncrypted = integration.webhookSecretEncrypted;
      integration.previousSecretExpiresAt = integration.webhookSecretEncrypted ? new Date(Date.now() + graceMs) : null;
      integration.webhookSecretEncrypted = this.seal(id, 'webhookSecret', secret);
    });
  }

  async setStatus(id: string, status: IntegrationStatus.ACTIVE | IntegrationStatus.PAUSED): Promise<Integration> {
    return this.change(id, (integration) => {
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
