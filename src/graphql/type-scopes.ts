import { Scope } from '../domain/auth/roles.js';

/**
 * The scope a key needs to read any field of an object type, wherever in a document the type
 * appears: as a root field's result, nested under another type, or in a mutation's payload. Root
 * fields keep their own `@Authorized` scopes on top (what a key may do); this table says what a
 * key may see, so a key narrowed to `canonical:write` cannot read a customer through
 * `updateCustomer { customer { ... } }`, nor a `logs:read` key integrations through
 * `webhookEvents { integration { ... } }`.
 *
 * `<Type>Connection` and `<Type>Edge` need the scope of `<Type>`. Types not listed (payloads,
 * PageInfo) are containers: what they hold is checked in turn.
 */
export const TYPE_SCOPES: Readonly<Record<string, Scope>> = {
  Customer: Scope.CANONICAL_READ,
  Contract: Scope.CANONICAL_READ,
  Invoice: Scope.CANONICAL_READ,
  InvoiceLineItem: Scope.CANONICAL_READ,
  ExternalRef: Scope.CANONICAL_READ,
  Money: Scope.CANONICAL_READ,
  Integration: Scope.INTEGRATIONS_READ,
  IntegrationJob: Scope.JOBS_READ,
  IntegrationLog: Scope.LOGS_READ,
  WebhookEvent: Scope.LOGS_READ,
  ApiKey: Scope.KEYS_MANAGE,
  AuditLog: Scope.AUDIT_READ,
  SyncRun: Scope.INTEGRATIONS_READ,
  FieldOrigin: Scope.CANONICAL_READ,
  FieldChange: Scope.CANONICAL_READ,
  AlertRule: Scope.ALERTS_READ,
  Alert: Scope.ALERTS_READ,
  IntegrationHealth: Scope.METRICS_READ,
  ErrorCount: Scope.METRICS_READ,
  ThroughputBucket: Scope.METRICS_READ,
};

/** The scope a type needs, looking through Connection and Edge wrappers; undefined for containers. */
export function scopeOfType(typeName: string): Scope | undefined {
  const base = typeName.replace(/(Connection|Edge)$/, '');
  return TYPE_SCOPES[typeName] ?? TYPE_SCOPES[base];
}
