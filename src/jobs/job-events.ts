import { EventEmitter } from 'node:events';
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
}

/**
 * An in-process typed topic. Producers publish after their transaction commits; the
 * subscription layer (and tests) listen. Cross-process delivery is layered on top of it.
 */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish<K extends keyof GatewayTopics>(topic: K, payload: GatewayTopics[K]): void {
    this.emitter.emit(topic, payload);
  }

  subscribe<K extends keyof GatewayTopics>(topic: K, listener: (payload: GatewayTopics[K]) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }
}
