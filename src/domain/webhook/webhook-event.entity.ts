import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Provider } from '../integration/integration.entity.js';

export enum WebhookStatus {
  RECEIVED = 'RECEIVED',
  PROCESSED = 'PROCESSED',
  FAILED = 'FAILED',
  IGNORED = 'IGNORED',
}

/** One provider event, stored as received (verified, before any processing). */
@Entity({ name: 'webhook_event' })
export class WebhookEvent {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'integration_id' })
  integrationId: string;

  @Column('text')
  provider: Provider;

  /** The provider's own event id (Stripe `evt_`, HubSpot `eventId`, SendGrid `sg_event_id`, `webhook-id`). */
  @Column('text', { name: 'external_event_id' })
  externalEventId: string;

  @Column('text', { name: 'event_type' })
  eventType: string;

  @Column('text')
  status: WebhookStatus;

  /** The event's JSON as the provider signed it (one element of a batch for HubSpot and SendGrid). */
  @Column('text')
  body: string;

  /** The provider's own time of the event: what orders changes to the same record. */
  @Column('timestamptz', { name: 'occurred_at', nullable: true })
  occurredAt: Date | null;

  @Column('timestamptz', { name: 'received_at' })
  receivedAt: Date;

  @Column('timestamptz', { name: 'processed_at', nullable: true })
  processedAt: Date | null;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('int')
  attempts: number;

  @Column('text', { name: 'correlation_id' })
  correlationId: string;
}
