import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import { forbidden, notFound } from '../../domain/shared/errors.js';
import { canSeeCustomer } from '../../domain/shared/access.js';
import { fromGlobalId } from '../../domain/shared/ids.js';
import { hasScopes, Scope } from '../../domain/auth/roles.js';
import type { GraphQLContext } from '../context.js';
import { NodeInterface } from '../types/node.js';

/**
 * Each node type: the scope it needs, how to load it, and which customer it belongs to (for
 * PARTNER grants). node(id) answers exactly what the type's own query would.
 */
const NODE_READERS: Record<string, { scope: Scope; load: (ctx: GraphQLContext, id: string) => Promise<{ id: string } | null>; customerOf?: (row: any) => string }> = {
  Customer: { scope: Scope.CANONICAL_READ, load: (ctx, id) => ctx.loaders.customer.load(id), customerOf: (c) => c.id },
  Contract: { scope: Scope.CANONICAL_READ, load: (ctx, id) => ctx.loaders.contract.load(id), customerOf: (c) => c.customerId },
  Invoice: { scope: Scope.CANONICAL_READ, load: (ctx, id) => ctx.loaders.invoice.load(id), customerOf: (i) => i.customerId },
  Integration: { scope: Scope.INTEGRATIONS_READ, load: (ctx, id) => ctx.loaders.integration.load(id) },
  ApiKey: { scope: Scope.KEYS_MANAGE, load: (ctx, id) => ctx.loaders.apiKey.load(id) },
  IntegrationJob: { scope: Scope.JOBS_READ, load: (ctx, id) => ctx.loaders.job.load(id) },
  IntegrationLog: { scope: Scope.LOGS_READ, load: (ctx, id) => ctx.services.jobs.findLog(id) },
  WebhookEvent: { scope: Scope.LOGS_READ, load: async (ctx, id) => (await ctx.services.webhooks.findByIds([id]))[0] ?? null },
  AuditLog: { scope: Scope.AUDIT_READ, load: (ctx, id) => ctx.services.audit.get(id) },
  SyncRun: { scope: Scope.INTEGRATIONS_READ, load: async (ctx, id) => (await ctx.services.sync.findByIds([id]))[0] ?? null },
  AlertRule: { scope: Scope.ALERTS_READ, load: async (ctx, id) => (await ctx.services.alerts.findRulesByIds([id]))[0] ?? null },
  Alert: { scope: Scope.ALERTS_READ, load: async (ctx, id) => (await ctx.services.alerts.findByIds([id]))[0] ?? null },
};

@Resolver()
export class NodeResolver {
  @Authorized()
  @Query(() => NodeInterface, { nullable: true, description: 'Any object by its global id.' })
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<object | null> {
    const parsed = fromGlobalId(id);
    const reader = parsed ? NODE_READERS[parsed.type] : undefined;
    if (!parsed || !reader) throw notFound('Node');
    if (!hasScopes(ctx.principal.scopes, [reader.scope])) throw forbidden(`This key lacks the scope ${reader.scope}`);
    const row = await reader.load(ctx, parsed.id);
    if (!row || (reader.customerOf && !canSeeCustomer(ctx.scope, reader.customerOf(row)))) throw notFound(parsed.type);
    return row;
  }
}
