import { Field, ID, InterfaceType } from 'type-graphql';
import { ApiKey } from '../../domain/auth/api-key.entity.js';
import { AuditLog } from '../../domain/audit/audit-log.entity.js';
import { Contract } from '../../domain/contract/contract.entity.js';
import { Customer } from '../../domain/customer/customer.entity.js';
import { Integration } from '../../domain/integration/integration.entity.js';
import { Invoice } from '../../domain/invoice/invoice.entity.js';
import { IntegrationJob } from '../../domain/job/integration-job.entity.js';
import { IntegrationLog } from '../../domain/job/integration-log.entity.js';
import { toGlobalId } from '../../domain/shared/ids.js';
import { WebhookEvent } from '../../domain/webhook/webhook-event.entity.js';
import { SyncRun } from '../../sync/sync-run.entity.js';
import { AlertRule } from '../../alerts/alert-rule.entity.js';
import { Alert } from '../../alerts/alert.entity.js';

/** Entity classes and the GraphQL type each is exposed as; extended as node types are added. */
export const NODE_TYPES = new Map<Function, string>([
  [Customer, 'Customer'],
  [Contract, 'Contract'],
  [Invoice, 'Invoice'],
  [Integration, 'Integration'],
  [ApiKey, 'ApiKey'],
  [IntegrationJob, 'IntegrationJob'],
  [IntegrationLog, 'IntegrationLog'],
  [WebhookEvent, 'WebhookEvent'],
  [AuditLog, 'AuditLog'],
  [SyncRun, 'SyncRun'],
  [AlertRule, 'AlertRule'],
  [Alert, 'Alert'],
]);

export function typeNameOf(value: object): string | undefined {
  return NODE_TYPES.get(value.constructor);
}

/** The global id of any stored row exposed as a node. */
export function globalIdOf(value: { id: string }): string {
  const type = typeNameOf(value);
  if (!type) throw new Error(`no node type for ${value.constructor.name}`);
  return toGlobalId(type, value.id);
}

@InterfaceType('Node', {
  description: 'An object with a global id (Relay object identification).',
  resolveType: (value: object) => typeNameOf(value),
})
export abstract class NodeInterface {
  @Field(() => ID, { description: 'Global id, opaque; accepted by node(id).' })
  id: string;
}
