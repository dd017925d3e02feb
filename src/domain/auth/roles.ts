import { Role } from './api-key.entity.js';

/** Scopes that guard fields and operations; a role is a fixed set of them. */
export enum Scope {
  CANONICAL_READ = 'canonical:read',
  CANONICAL_WRITE = 'canonical:write',
  /** Personal fields of customers: email, phone, tax id. */
  PII_READ = 'pii:read',
  JOBS_START = 'jobs:start',
  JOBS_READ = 'jobs:read',
  JOBS_MANAGE = 'jobs:manage',
  INTEGRATIONS_READ = 'integrations:read',
  INTEGRATIONS_MANAGE = 'integrations:manage',
  LOGS_READ = 'logs:read',
  WEBHOOKS_MANAGE = 'webhooks:manage',
  KEYS_MANAGE = 'keys:manage',
  /** The audit trail: ADMIN only. */
  AUDIT_READ = 'audit:read',
  /** Prometheus metrics on the API port (their labels name every integration). */
  METRICS_READ = 'metrics:read',
  /** Alert rules and alerts (reading, and alertUpdated). */
  ALERTS_READ = 'alerts:read',
  /** Creating, changing and deleting alert rules. */
  ALERTS_MANAGE = 'alerts:manage',
}

export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  [Role.ADMIN]: Object.values(Scope),
  [Role.OPERATOR]: [
    Scope.CANONICAL_READ,
    Scope.PII_READ,
    Scope.JOBS_READ,
    Scope.JOBS_MANAGE,
    Scope.INTEGRATIONS_READ,
    Scope.INTEGRATIONS_MANAGE,
    Scope.LOGS_READ,
    Scope.WEBHOOKS_MANAGE,
    Scope.METRICS_READ,
    Scope.ALERTS_READ,
    Scope.ALERTS_MANAGE,
  ],
  [Role.APP]: [Scope.CANONICAL_READ, Scope.PII_READ, Scope.CANONICAL_WRITE, Scope.JOBS_START, Scope.JOBS_READ, Scope.INTEGRATIONS_READ],
  [Role.PARTNER]: [Scope.CANONICAL_READ],
};

/** Scopes a PARTNER key holds only when its creator grants them. */
export const PARTNER_GRANTABLE: readonly Scope[] = [Scope.PII_READ];

/** What a key may do: its role's scopes, narrowed by the key's own list (or, for partners, widened by grants). */
export function effectiveScopes(role: Role, keyScopes: readonly string[]): Scope[] {
  const roleScopes = ROLE_SCOPES[role];
  if (role === Role.PARTNER) return [...roleScopes, ...PARTNER_GRANTABLE.filter((s) => keyScopes.includes(s))];
  return keyScopes.length ? roleScopes.filter((s) => keyScopes.includes(s)) : [...roleScopes];
}

/** The scopes a key of this role may list at creation. */
export function assignableScopes(role: Role): readonly Scope[] {
  return role === Role.PARTNER ? [...ROLE_SCOPES[role], ...PARTNER_GRANTABLE] : ROLE_SCOPES[role];
}

export function hasScopes(granted: readonly Scope[], needed: readonly string[]): boolean {
  return needed.every((s) => granted.includes(s as Scope));
}
