import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { NodeInterface } from './node.js';

@ObjectType('AuditLog', {
  implements: NodeInterface,
  description: 'One mutation that changed something: who, what, on which record, and the change. Secrets never appear; personal data is masked.',
})
export class AuditLogType extends NodeInterface {
  @Field({ description: 'The mutation, e.g. updateIntegration.' })
  action: string;

  @Field(() => String, { nullable: true, description: "The actor key's name when the change was made." })
  actorName: string | null;

  @Field(() => String, { nullable: true })
  targetType: string | null;

  @Field(() => JSONScalar, { nullable: true, description: '{ field: { before, after } } for each field that changed.' })
  changes: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  correlationId: string | null;

  @Field(() => DateTimeScalar)
  timestamp: Date;
}

export const AuditLogConnection = ConnectionType('AuditLog', AuditLogType);

@InputType()
export class AuditLogFilter {
  @Field(() => ID, { nullable: true, description: 'The ApiKey that made the change.' })
  actorKeyId?: string | null;

  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => ID, { nullable: true, description: 'The changed record (any type).' })
  targetId?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  since?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  until?: Date | null;
}
