import { AlertRule } from '../alerts/alert-rule.entity.js';
import { Alert } from '../alerts/alert.entity.js';
import { SyncRun } from '../sync/sync-run.entity.js';
import { AuditLog } from '../domain/audit/audit-log.entity.js';
import { DataSource, type DataSourceOptions, type Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from 'pino';
import { migrations } from '../../migrations/index.js';
import { ApiKey } from '../domain/auth/api-key.entity.js';
import { Contract } from '../domain/contract/contract.entity.js';
import { Customer } from '../domain/customer/customer.entity.js';
import { ExternalRef } from '../domain/external-ref/external-ref.entity.js';
import { Integration } from '../domain/integration/integration.entity.js';
import { IntegrationJob } from '../domain/job/integration-job.entity.js';
import { IntegrationLog } from '../domain/job/integration-log.entity.js';
import { Invoice, InvoiceLineItem } from '../domain/invoice/invoice.entity.js';
import { WebhookEvent } from '../domain/webhook/webhook-event.entity.js';
import { dbStatements } from '../observability/metrics.js';
import type { DatabaseAvailability } from './availability.js';
import { DEFAULT_DB_TIMEOUTS, guardedOptions, guardedPg, type DbRole, type DbTimeouts, type Guard } from './guarded-client.js';

export interface DataSourceFaultOptions {
  timeouts: DbTimeouts;
  monitor: DatabaseAvailability | null;
  /**
   * The role of its statements: 'api' when the process serves requests (ROLE=api or all: then the
   * workers' statements on this pool have the request limit too; their long ones are batched),
   * 'worker' for ROLE=worker.
   */
  role: DbRole;
}

export const entities = [Customer, Contract, Invoice, InvoiceLineItem, ExternalRef, Integration, ApiKey, IntegrationJob, IntegrationLog, WebhookEvent, AuditLog, SyncRun, AlertRule, Alert];

/** Counts every statement (the N+1 guard reads it) and logs failures without their parameters. */
class CountingLogger implements TypeOrmLogger {
  constructor(private readonly out: Logger) {}
  logQuery(): void {
    dbStatements.inc();
  }
  logQueryError(error: string | Error, query: string): void {
    this.out.debug({ err: error instanceof Error ? error.message : error, query: query.slice(0, 500) }, 'query failed');
  }
  logQuerySlow(time: number, query: string): void {
    this.out.warn({ ms: time, query: query.slice(0, 500) }, 'slow query');
  }
  logSchemaBuild(): void {}
  logMigration(message: string): void {
    this.out.info({ migration: message }, 'migration');
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.out.warn({ typeorm: message }, 'typeorm');
  }
}

/**
 * The canonical data source. Its pool is guarded (src/db/guarded-client.ts): time limits per
 * role, the request's deadline on every wait, keepalive, and reports to the availability monitor.
 */
export function createDataSource(
  url: string,
  log: Logger,
  poolSize = 20,
  faults: DataSourceFaultOptions = { timeouts: DEFAULT_DB_TIMEOUTS, monitor: null, role: 'worker' },
): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTransactionMode: 'all',
    synchronize: false,
    logger: new CountingLogger(log),
    maxQueryExecutionTime: 1000,
    driver: guardedPg,
    extra: { max: poolSize, application_name: 'switchboard', ...guardedOptions({ pool: 'data_source', role: faults.role, timeouts: faults.timeouts, monitor: faults.monitor }) },
  });
}

/** Connects and applies pending migrations (see migrate); returns the names applied. */
export async function initialiseDatabase(dataSource: DataSource): Promise<string[]> {
  await dataSource.initialize();
  // Migrations run on connections of their own, with the migration statement timeout
  // (DB_MIGRATION_TIMEOUT_MS), not the request or worker limit of the data source's pool.
  const extra = dataSource.options.extra as { guard?: Guard } | undefined;
  const migrator = new DataSource({
    ...(dataSource.options as DataSourceOptions),
    extra: { ...extra, max: 2, ...(extra?.guard ? guardedOptions({ ...extra.guard, role: 'migration' }) : {}) },
  } as DataSourceOptions);
  await migrator.initialize();
  try {
    return await migrate(migrator);
  } finally {
    await migrator.destroy();
  }
}

/**
 * Applies pending migrations; returns the names applied. Processes starting together on one
 * database take turns (a session advisory lock), so exactly one of them migrates.
 */
async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock(hashtext('switchboard:migrations'))`);
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query(`SELECT pg_advisory_unlock(hashtext('switchboard:migrations'))`).catch(() => undefined);
    await runner.release();
  }
}
