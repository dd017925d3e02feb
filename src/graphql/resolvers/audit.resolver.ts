import { Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import type { AuditLog } from '../../domain/audit/audit-log.entity.js';
import { Scope } from '../../domain/auth/roles.js';
import { fromGlobalId, isUuid, parseId, toGlobalId } from '../../domain/shared/ids.js';
import { badInput } from '../../domain/shared/errors.js';
import type { GraphQLContext } from '../context.js';
import { AuditLogConnection, AuditLogFilter, AuditLogType } from '../types/audit.types.js';
import { globalIdOf } from '../types/node.js';
import { PageArgsType } from './customer.resolver.js';

@ArgsType()
class AuditLogsArgs extends PageArgsType {
  @Field(() => AuditLogFilter, { nullable: true })
  filter?: AuditLogFilter | null;
}

/** Any record's global id (or a bare uuid) as its row id. */
function anyId(value: string, field: string): string {
  if (isUuid(value)) return value.toLowerCase();
  const parsed = fromGlobalId(value);
  if (!parsed) throw badInput(field, `${field} is not a valid id`);
  return parsed.id;
}

@Resolver(() => AuditLogType)
export class AuditLogResolver {
  @FieldResolver(() => ID)
  id(@Root() row: AuditLog): string {
    return globalIdOf(row);
  }

  @FieldResolver(() => ID, { nullable: true, description: 'The ApiKey that made the change; null for the gateway itself.' })
  actorKeyId(@Root() row: AuditLog): string | null {
    return row.actorKeyId ? toGlobalId('ApiKey', row.actorKeyId) : null;
  }

  @FieldResolver(() => ID, { nullable: true })
  targetId(@Root() row: AuditLog): string | null {
    return row.targetId && row.targetType ? toGlobalId(row.targetType, row.targetId) : row.targetId;
  }

  @Authorized(Scope.AUDIT_READ)
  @Query(() => AuditLogConnection, { description: 'The audit trail, oldest first (ADMIN keys only).' })
  auditLogs(@Args() { first, after, filter }: AuditLogsArgs, @Ctx() ctx: GraphQLContext) {
    return ctx.services.audit.list(
      {
        ...filter,
        actorKeyId: filter?.actorKeyId ? parseId('ApiKey', filter.actorKeyId, 'filter.actorKeyId') : null,
        targetId: filter?.targetId ? anyId(filter.targetId, 'filter.targetId') : null,
      },
      { first, after },
    );
  }
}
