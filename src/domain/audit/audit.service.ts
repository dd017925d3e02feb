import type { DataSource } from 'typeorm';
import { paginate, type Connection, type PageArgs } from '../shared/pagination.js';
import { AuditLog } from './audit-log.entity.js';

export interface AuditLogFilter {
  actorKeyId?: string | null;
  action?: string | null;
  targetId?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/** Reads the audit trail (rows are written by recordAudit, inside each change's transaction). */
export class AuditService {
  constructor(private readonly db: DataSource) {}

  get(id: string): Promise<AuditLog | null> {
    return this.db.getRepository(AuditLog).findOneBy({ id });
  }

  list(filter: AuditLogFilter, page: PageArgs): Promise<Connection<AuditLog>> {
    const qb = this.db.getRepository(AuditLog).createQueryBuilder('a');
    if (filter.actorKeyId) qb.andWhere('a.actorKeyId = :actorKeyId', { actorKeyId: filter.actorKeyId });
    if (filter.action) qb.andWhere('a.action = :action', { action: filter.action });
    if (filter.targetId) qb.andWhere('a.targetId = :targetId', { targetId: filter.targetId });
    if (filter.since) qb.andWhere('a.timestamp >= :since', { since: filter.since });
    if (filter.until) qb.andWhere('a.timestamp < :until', { until: filter.until });
    return paginate(qb, page);
  }
}
