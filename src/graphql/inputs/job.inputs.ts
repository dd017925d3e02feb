import { Field, ID, InputType } from 'type-graphql';
import { JobStatus } from '../../domain/job/integration-job.entity.js';
import { Direction, LogStatus } from '../../domain/job/integration-log.entity.js';
import { DateTimeScalar, JSONScalar } from '../scalars.js';

@InputType()
export class IntegrationJobFilter {
  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => JobStatus, { nullable: true })
  status?: JobStatus | null;

  @Field(() => ID, { nullable: true, description: 'The canonical record the job is about.' })
  entityId?: string | null;

  @Field(() => String, { nullable: true })
  correlationId?: string | null;

  @Field(() => String, { nullable: true })
  operation?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  createdAfter?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  createdBefore?: Date | null;
}

@InputType()
export class IntegrationLogFilter {
  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => ID, { nullable: true })
  jobId?: string | null;

  @Field(() => ID, { nullable: true })
  webhookEventId?: string | null;

  @Field(() => String, { nullable: true })
  correlationId?: string | null;

  @Field(() => LogStatus, { nullable: true })
  status?: LogStatus | null;

  @Field(() => Direction, { nullable: true })
  direction?: Direction | null;

  @Field(() => DateTimeScalar, { nullable: true })
  since?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  until?: Date | null;
}

@InputType()
export class SendNotificationInput {
  @Field({ description: 'Recipient email address.' })
  to: string;

  @Field({ description: 'Verified sender address.' })
  from: string;

  @Field({ description: 'SendGrid dynamic template id (d-…).' })
  templateId: string;

  @Field(() => String, { nullable: true, description: 'invoice_sent, payment_failed, …' })
  kind?: string | null;

  @Field(() => JSONScalar, { nullable: true, description: 'dynamic_template_data' })
  data?: unknown;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => ID, { nullable: true })
  invoiceId?: string | null;
}
