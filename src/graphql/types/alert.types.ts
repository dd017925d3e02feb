import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AlertKind } from '../../alerts/alert-rule.entity.js';
import { AlertStatus } from '../../alerts/alert.entity.js';
import { DateTimeScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { NodeInterface } from './node.js';
import { SyncRunType } from './sync.types.js';

registerEnumType(AlertKind, {
  name: 'AlertKind',
  description:
    'FAILURE_RATE: share of failed outbound attempts over windowSeconds (0 to 1; needs minAttempts attempts). QUEUE_LAG: age in seconds of the oldest waiting job. ' +
    'CIRCUIT_OPEN: 1 while a circuit is OPEN. WEBHOOK_FAILURES: webhook requests rejected and events whose processing FAILED in the window. SYNC_FAILED: sync runs FAILED in the window.',
});
registerEnumType(AlertStatus, { name: 'AlertStatus', description: 'FIRING until the condition has cleared (below resolveThreshold for resolveAfterEvaluations evaluations), then RESOLVED.' });

@ObjectType('AlertRule', { implements: NodeInterface, description: 'A watched measurement: when it reaches threshold an Alert fires, and an email goes out through a SENDGRID integration.' })
export class AlertRuleType extends NodeInterface {
  @Field()
  name: string;

  @Field(() => AlertKind)
  kind: AlertKind;

  @Field(() => ID, { nullable: true, description: 'The integration watched; null: all integrations.' })
  integrationId: string | null;

  @Field(() => Float, { description: 'Fires when the value reaches this (FAILURE_RATE: a share 0..1; QUEUE_LAG: seconds; the others: a count).' })
  threshold: number;

  @Field(() => Float, { description: 'A FIRING alert resolves only once the value is below this (default: 80 % of threshold for FAILURE_RATE and QUEUE_LAG, threshold for the others).' })
  resolveThreshold: number;

  @Field(() => Int, { description: 'Evaluations in a row below resolveThreshold before a FIRING alert resolves (default 3).' })
  resolveAfterEvaluations: number;

  @Field(() => Int, { description: 'FAILURE_RATE: attempts the window must hold before a rate counts (default 10).' })
  minAttempts: number;

  @Field(() => Int, { description: 'The window FAILURE_RATE, WEBHOOK_FAILURES and SYNC_FAILED count over.' })
  windowSeconds: number;

  @Field()
  enabled: boolean;

  @Field(() => ID, { nullable: true, description: 'The SENDGRID integration the alert emails go through.' })
  notifyIntegrationId: string | null;

  @Field(() => String, { nullable: true })
  notifyEmail: string | null;

  @Field(() => Float, { nullable: true, description: 'The value at the last evaluation.' })
  lastValue: number | null;

  @Field(() => DateTimeScalar, { nullable: true })
  lastEvaluatedAt: Date | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;
}

@ObjectType('Alert', { implements: NodeInterface, description: 'One episode of a rule\'s condition: fired once, resolved once.' })
export class AlertType extends NodeInterface {
  @Field(() => AlertStatus)
  status: AlertStatus;

  @Field(() => Float, { description: 'The measured value when it fired.' })
  value: number;

  @Field({ description: 'What happened, as the email says it.' })
  message: string;

  @Field(() => DateTimeScalar)
  firedAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  resolvedAt: Date | null;

  @Field(() => Float, { nullable: true, description: 'The measured value when it resolved.' })
  resolvedValue: number | null;

  @Field(() => ID, { nullable: true, description: "The rule's integration when it fired (null: a rule over all integrations)." })
  integrationId: string | null;
}

export const AlertConnection = ConnectionType('Alert', AlertType);

@InputType()
export class AlertFilter {
  @Field(() => AlertStatus, { nullable: true })
  status?: AlertStatus | null;

  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => ID, { nullable: true })
  ruleId?: string | null;
}

@InputType()
export class CreateAlertRuleInput {
  @Field()
  name: string;

  @Field(() => AlertKind)
  kind: AlertKind;

  @Field(() => ID, { nullable: true, description: 'Watch one integration; omitted: all.' })
  integrationId?: string | null;

  @Field(() => Float)
  threshold: number;

  @Field(() => Float, { nullable: true })
  resolveThreshold?: number | null;

  @Field(() => Int, { nullable: true })
  resolveAfterEvaluations?: number | null;

  @Field(() => Int, { nullable: true })
  minAttempts?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 300.' })
  windowSeconds?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true.' })
  enabled?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'A SENDGRID integration; needs notifyEmail.' })
  notifyIntegrationId?: string | null;

  @Field(() => String, { nullable: true })
  notifyEmail?: string | null;
}

@InputType({ description: 'Fields given are changed; null clears integrationId, notifyIntegrationId and notifyEmail.' })
export class UpdateAlertRuleInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => Float, { nullable: true })
  threshold?: number | null;

  @Field(() => Float, { nullable: true })
  resolveThreshold?: number | null;

  @Field(() => Int, { nullable: true })
  resolveAfterEvaluations?: number | null;

  @Field(() => Int, { nullable: true })
  minAttempts?: number | null;

  @Field(() => Int, { nullable: true })
  windowSeconds?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'false: the rule is not evaluated, and its FIRING alert resolves.' })
  enabled?: boolean | null;

  @Field(() => ID, { nullable: true })
  notifyIntegrationId?: string | null;

  @Field(() => String, { nullable: true })
  notifyEmail?: string | null;
}

@ObjectType()
export class AlertRulePayload {
  @Field(() => AlertRuleType)
  alertRule: object;
}

@ObjectType({ description: 'Failed outbound attempts of one kind.' })
export class ErrorCount {
  @Field({ description: "The engine's failure kind: timeout, network, server (5xx), rate_limited (429), client (4xx), auth, gateway; unknown for attempts recorded before kinds were." })
  kind: string;

  @Field(() => Int)
  count: number;
}

@ObjectType({ description: "An integration's state over the last windowSeconds, for the console overview." })
export class IntegrationHealth {
  @Field(() => Int)
  windowSeconds: number;

  @Field(() => Int, { description: 'Outbound attempts (provider calls of jobs) in the window.' })
  attempts: number;

  @Field(() => Float, { nullable: true, description: 'Share of those attempts that succeeded (0..1); null when none were made.' })
  successRate: number | null;

  @Field(() => Float, { nullable: true, description: 'Median call duration in the window.' })
  p50LatencyMs: number | null;

  @Field(() => Float, { nullable: true })
  p95LatencyMs: number | null;

  @Field(() => [ErrorCount])
  errorsByKind: ErrorCount[];

  @Field(() => Int, { description: 'Jobs waiting (PENDING or RETRYING).' })
  queueDepth: number;

  @Field(() => Float, { nullable: true, description: 'Age of the oldest waiting job; null when none waits.' })
  oldestWaitingSeconds: number | null;

  @Field(() => Float, { nullable: true, description: 'Age of the oldest stored-but-unprocessed webhook event (0 when none).' })
  webhookLagSeconds: number | null;

  @Field(() => SyncRunType, { nullable: true })
  lastSyncRun: object | null;
}

@ObjectType({ description: 'Work finished in one bucket of time.' })
export class ThroughputBucket {
  @Field(() => DateTimeScalar, { description: "The bucket's start." })
  at: Date;

  @Field(() => Int, { description: 'Jobs that reached COMPLETED in the bucket.' })
  jobsCompleted: number;

  @Field(() => Int, { description: 'Jobs that reached FAILED (dead-lettered) in the bucket.' })
  jobsFailed: number;

  @Field(() => Int, { description: 'Webhook events received (stored) in the bucket.' })
  webhookEvents: number;
}
