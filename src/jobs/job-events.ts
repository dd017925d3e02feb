import { EventEmitter } from 'node:events';
import type { EntityManager } from 'typeorm';
import type { IntegrationJob } from '../domain/job/integration-job.entity.js';
import type { IntegrationLog } from '../domain/job/integration-log.entity.js';
import type { Contract } from '../domain/contract/contract.entity.js';
import type { Customer } from '../domain/customer/customer.entity.js';
import type { Invoice } from '../domain/invoice/invoice.entity.js';

/** The internal topics: every job status change and every log row, as they are committed. */
export interface GatewayTopics {
  'job.updated': IntegrationJob;
  'log.added': IntegrationLog;
  /** Canonical records changed by inbound provider events. */
  'customer.updated': Customer;
  'invoice.updated': Invoice;
  'contract.updated': Contract;
  /** A sync run queued, progressed or ended. */
  'sync.updated': SyncRunEvent;
  /** An alert fired or resolved. */
  'alert.updated': AlertEvent;
}

/** What an alert's event carries (subscribers load the alert). */
export interface AlertEvent {
  id: string;
  ruleId: string;
  integrationId: string | null;
  status: string;
}

/** What a sync run's progress event carries (the run row holds the rest). */
export interface SyncRunEvent {
  id: string;
  integrationId: string;
}

/**
 * An in-process typed topic. Producers publish after their transaction commits; the
 * subscription layer (and tests) listen. Cross-process delivery is layered on top of it.
 */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  private commitSender: CommitSender | null = null;
  private readonly sentWithCommit = new WeakSet<object>();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish<K extends keyof GatewayTopics>(topic: K, payload: GatewayTopics[K]): void {
    this.emitter.emit(topic, payload);
  }

  /**
   * Sends `payloads` to the other processes inside `tx`. PostgreSQL delivers a transaction's
   * notifications when it commits, in commit order, so a change another process commits later
   * (a worker starting the job just enqueued) cannot reach a subscriber first, however late this
   * process gets to publish after its commit. Call publish() after the commit as usual: this
   * process's listeners hear it then, and the relay does not send it again.
   */
  async publishWithCommit<K extends keyof GatewayTopics>(tx: EntityManager, topic: K, payloads: ReadonlyArray<GatewayTopics[K]>): Promise<void> {
    if (payloads.length === 0) return;
    if (this.commitSender && (await this.commitSender(tx, topic, payloads))) for (const p of payloads) this.sentWithCommit.add(p);
  }

  /** Whether the relay already dealt with this payload in its transaction (publishWithCommit). */
  wasSentWithCommit(payload: object): boolean {
    return this.sentWithCommit.has(payload);
  }

  /** The cross-process relay registers how a payload is sent inside a transaction. */
  sendWithCommitVia(sender: CommitSender): void {
    this.commitSender = sender;
  }

  subscribe<K extends keyof GatewayTopics>(topic: K, listener: (payload: GatewayTopics[K]) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }
}

/**
 * Sends payloads inside a transaction. True when the relay has dealt with them (sent, or found too
 * big to send), so that publish() after the commit does not relay it again; false when the topic
 * does not cross processes.
 */
export type CommitSender = <K extends keyof GatewayTopics>(tx: EntityManager, topic: K, payloads: ReadonlyArray<GatewayTopics[K]>) => Promise<boolean>;
