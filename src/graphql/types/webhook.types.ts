import { Field, InputType, Int, ObjectType, ID, registerEnumType } from 'type-graphql';
import { WebhookStatus } from '../../domain/webhook/webhook-event.entity.js';
import { DateTimeScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { NodeInterface } from './node.js';

registerEnumType(WebhookStatus, {
  name: 'WebhookStatus',
  description: 'RECEIVED: stored, not yet processed. PROCESSED: applied. IGNORED: nothing to apply (logged why). FAILED: retries exhausted; replayable.',
});

@ObjectType('WebhookEvent', { implements: NodeInterface, description: 'One provider event, stored as received before it was acknowledged.' })
export class WebhookEventType extends NodeInterface {
  @Field({ description: "The provider's event id (evt_…, HubSpot eventId, sg_event_id, webhook-id): the deduplication key." })
  externalEventId: string;

  @Field()
  eventType: string;

  @Field(() => WebhookStatus)
  status: WebhookStatus;

  @Field(() => DateTimeScalar)
  receivedAt: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: "The provider's own time of the event." })
  occurredAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  processedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'The last processing error.' })
  error: string | null;

  @Field(() => Int, { description: 'Processing attempts so far.' })
  attempts: number;

  @Field()
  correlationId: string;
}

export const WebhookEventConnection = ConnectionType('WebhookEvent', WebhookEventType);

@InputType()
export class WebhookEventFilter {
  @Field(() => ID, { nullable: true })
  integrationId?: string | null;

  @Field(() => WebhookStatus, { nullable: true })
  status?: WebhookStatus | null;

  @Field(() => String, { nullable: true })
  eventType?: string | null;

  @Field(() => String, { nullable: true })
  externalEventId?: string | null;

  @Field(() => String, { nullable: true })
  correlationId?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  receivedAfter?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  receivedBefore?: Date | null;
}
