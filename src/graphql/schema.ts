import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { authChecker } from './auth-checker.js';
import { ApiKeyResolver } from './resolvers/api-key.resolver.js';
import { AuditLogResolver } from './resolvers/audit.resolver.js';
import { AuditLogType } from './types/audit.types.js';
import { ContractResolver } from './resolvers/contract.resolver.js';
import { CustomerResolver } from './resolvers/customer.resolver.js';
import { IntegrationResolver } from './resolvers/integration.resolver.js';
import { InvoiceResolver } from './resolvers/invoice.resolver.js';
import { IntegrationJobResolver, IntegrationLogResolver } from './resolvers/job.resolver.js';
import { WebhookEventResolver } from './resolvers/webhook.resolver.js';
import { SubscriptionResolver } from './resolvers/subscription.resolver.js';
import { NodeResolver } from './resolvers/node.resolver.js';
import { SyncRunResolver } from './resolvers/sync.resolver.js';
import { SyncRunType } from './types/sync.types.js';
import { AlertResolver, AlertRuleResolver, IntegrationHealthResolver, ThroughputResolver } from './resolvers/alert.resolver.js';
import { AlertRuleType, AlertType } from './types/alert.types.js';
import { ApiKeyType, IntegrationType } from './types/admin.types.js';
import { ContractType, CustomerType, InvoiceType } from './types/canonical.types.js';
import './types/enums.js';
import { IntegrationJobType, IntegrationLogType } from './types/job.types.js';
import { WebhookEventType } from './types/webhook.types.js';

export const resolvers = [
  NodeResolver,
  CustomerResolver,
  ContractResolver,
  InvoiceResolver,
  IntegrationResolver,
  ApiKeyResolver,
  IntegrationJobResolver,
  IntegrationLogResolver,
  WebhookEventResolver,
  SubscriptionResolver,
  AuditLogResolver,
  SyncRunResolver,
  AlertRuleResolver,
  AlertResolver,
  IntegrationHealthResolver,
  ThroughputResolver,
] as const;

let cached: Promise<GraphQLSchema> | undefined;

/** The schema, built once per process from the resolver classes. */
export function getSchema(): Promise<GraphQLSchema> {
  return (cached ??= buildSchema({
    resolvers,
    orphanedTypes: [CustomerType, ContractType, InvoiceType, IntegrationType, ApiKeyType, IntegrationJobType, IntegrationLogType, WebhookEventType, AuditLogType, SyncRunType, AlertRuleType, AlertType],
    authChecker,
    validate: false,
    // type-graphql insists on a PubSub once a schema has subscriptions. Ours all use `subscribe`
    // functions over the EventRelay (src/graphql/subscriptions.ts); topic-based ones are refused.
    pubSub: {
      publish() {
        throw new Error('publish through the EventBus; the EventRelay carries events to subscribers');
      },
      subscribe() {
        throw new Error('subscriptions use subscribe functions over the EventRelay, not topics');
      },
    },
  }));
}

/** The published SDL: sorted, so the committed file diffs only when the API changes. */
export async function printPublishedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
}
