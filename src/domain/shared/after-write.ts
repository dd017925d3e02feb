import type { EntityManager } from 'typeorm';

/** Work done in the same transaction as a canonical write (for example, outbound sync jobs). */
export type AfterWrite<E, T> = (tx: EntityManager, entity: E) => Promise<T>;
