import { ChangeSource } from '../../domain/shared/field-origins.js';
import './sync.types.js';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JobStatus } from '../../domain/job/integration-job.entity.js';
import { Direction, LogStatus } from '../../domain/job/integration-log.entity.js';
import { DateTimeScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { NodeInterface } from './node.js';

registerEnumType(JobStatus, { name: 'JobStatus', description: 'FAILED is terminal: retries are exhausted and the job sits in the dead-letter queue, replayable.' });
registerEnumType(LogStatus, { name: 'LogStatus' });
registerEnumType(Direction, { name: 'Direction' });

@ObjectType('IntegrationJob', { implements: NodeInterface, description: 'One outbound provider operation and its state machine.' })
export class IntegrationJobType extends NodeInterface {
  @Field({ description: 'customer.upsert, contract.upsert, invoice.send, notification.send' })
  operation: string;

  @Field(() => ChangeSource, { description: 'The change that caused the job: API (a mutation), WEBHOOK or POLL (a change another provider reported, fanned out), IMPORT.' })
  source: ChangeSource;

  @Field(() => String, { nullable: true })
  entityType: string | null;

  @Field(() => JobStatus)
  status: JobStatus;

  @Field(() => Int, { description: 'Provider calls made so far in this round.' })
  attempts: number;

  @Field(() => Int)
  maxAttempts: number;

  @Field(() => String, { nullable: true })
  lastError: string | null;

  @Field()
  correlationId: string;

  @Field(() => String, { nullable: true })
  idempotencyKey: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When a RETRYING or put-off job runs next.' })
  nextAttemptAt: Date | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  completedAt: Date | null;
}

@ObjectType('IntegrationLog', { implements: NodeInterface, description: 'One call in or out. Bodies are kept masked and are not exposed here.' })
export class IntegrationLogType extends NodeInterface {
  @Field()
  service: string;

  @Field()
  eventType: string;

  @Field(() => Direction)
  direction: Direction;

  @Field(() => LogStatus)
  status: LogStatus;

  @Field(() => DateTimeScalar)
  timestamp: Date;

  @Field(() => String, { nullable: true })
  errorMsg: string | null;

  @Field(() => String, { nullable: true })
  correlationId: string | null;

  @Field(() => Int, { nullable: true })
  httpStatus: number | null;

  @Field(() => Int, { nullable: true })
  durationMs: number | null;

  @Field(() => String, { nullable: true, description: "A failed outbound attempt's failure kind as the engine classified it: timeout, network, server (5xx), rate_limited (429), client (4xx), auth, gateway." })
  errorKind: string | null;

  @Field(() => Int, { nullable: true, description: 'Which attempt of its job this call was.' })
  attempt: number | null;
}

@ObjectType('JobPayload')
export class JobPayload {
  @Field(() => IntegrationJobType)
  job: object;
}

@ObjectType('JobsPayload')
export class JobsPayload {
  @Field(() => [IntegrationJobType], { description: 'The jobs, in the order their entities were given.' })
  jobs: object[];
}

@ObjectType('ReplayPayload')
export class ReplayPayload {
  @Field(() => [IntegrationJobType], { description: 'The FAILED jobs put back in the queue.' })
  jobs: object[];
}

export const IntegrationJobConnection = ConnectionType('IntegrationJob', IntegrationJobType);
export const IntegrationLogConnection = ConnectionType('IntegrationLog', IntegrationLogType);
