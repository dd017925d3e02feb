import { z } from 'zod';
import { ownershipOverrides } from '../webhooks/ownership.js';

const port = z.coerce.number().int().min(0).max(65535);

/** "true"/"false" (also 1/0, yes/no), so a typo is an error rather than a silent false. */
const flag = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const encryptionKey = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32, {
    message: 'expected a base64 string that decodes to exactly 32 bytes (openssl rand -base64 32)',
  });

const origins = z
  .string()
  .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().refine((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o), {
        message: 'expected origins such as https://app.example.com (scheme and host, no path), comma-separated',
      }),
    ),
  );

/** Every variable Switchboard reads, with its default. */
const baseSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// connection string')
    .optional(),
  PORT: port.default(4000),
  HOST: z.string().default('0.0.0.0'),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  ADMIN_API_KEY: z
    .string()
    .min(24, 'expected at least 24 characters')
    .optional(),
  CORS_ORIGINS: origins.default([]),
  ENCRYPTION_KEY: encryptionKey.optional(),
  /** During a rotation: the keys values may still be sealed with (read only), comma-separated. */
  ENCRYPTION_KEY_PREVIOUS: z
    .string()
    .refine((v) => v.split(',').map((k) => k.trim()).filter(Boolean).every((k) => Buffer.from(k, 'base64').length === 32), {
      message: 'expected comma-separated base64 strings that each decode to exactly 32 bytes',
    })
    .optional(),
  PUBLIC_URL: z.url({ message: 'expected the URL providers reach this gateway at, such as https://switchboard.example.com' }).optional(),
  /** Unset: ./.data, or a folder under /var/tmp when the postgres user cannot reach the checkout (see resolveDataDir). */
  DATA_DIR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  /** An API request's (or webhook's) whole database budget, and each of its statements' server-side limit (ADR 0010). */
  DB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** A worker's statement: the server cancels it after this; the connection is given up 1 s later. */
  DB_WORKER_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
  /** A migration's statement (at start-up); 0: no limit. */
  DB_MIGRATION_TIMEOUT_MS: z.coerce.number().int().min(0).default(600_000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(50).default(10),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(10).default(50_000),
  GRAPHQL_MAX_MUTATION_FIELDS: z.coerce.number().int().min(1).max(1000).default(20),
  /** Unset: /metrics only on PORT, for a key with metrics:read. Set: also unauthenticated on this port of METRICS_HOST. */
  METRICS_PORT: port.optional(),
  METRICS_HOST: z.string().default('127.0.0.1'),
  OUTBOUND_ALLOW_LOOPBACK: flag.default(false),
  API_KEY_USAGE_FLUSH_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  OUTBOUND_MAX_RESPONSE_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(20),
  CIRCUIT_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  CIRCUIT_COOLDOWN_MS: z.coerce.number().int().min(100).default(30_000),
  QUEUE_HEARTBEAT_SECONDS: z.coerce.number().int().min(10).default(10),
  QUEUE_SLOW_FETCH_MS: z.coerce.number().int().min(0).default(25),
  QUEUE_MONITOR_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(2),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(15000),
  RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** The audit trail; never kept shorter than RETENTION_DAYS keeps logs (see auditRetentionDays); 0 keeps it forever. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(365),
  FIELD_OWNERSHIP: ownershipOverrides.optional(),
  WEBHOOK_RETRY_LIMIT: z.coerce.number().int().min(0).max(50).default(6),
  WEBHOOK_RETRY_DELAY_SECONDS: z.coerce.number().int().min(1).max(3600).default(2),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
  /** Sync runs (backfill, polling) one worker process carries out at once. */
  SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
  /** How often worker processes look for integrations whose pollIntervalSeconds has come round. */
  /** How often a worker evaluates the alert rules (one worker at a time). */
  ALERT_EVAL_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  /** The sender of alert emails (a sender the SENDGRID account has verified). */
  ALERT_EMAIL_FROM: z.email({ message: 'expected an email address such as alerts@example.com' }).default('alerts@switchboard.example.com'),
  SYNC_SCHEDULE_CHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  WS_MAX_CONNECTIONS_PER_KEY: z.coerce.number().int().min(1).default(1000),
  WS_MAX_SUBSCRIPTIONS_PER_KEY: z.coerce.number().int().min(1).default(5000),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  WS_MAX_QUEUED_EVENTS: z.coerce.number().int().min(1).default(1000),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(1000).default(12_000),
  WEBHOOK_COMMIT_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(1),
});

/** The environment schema: every variable Switchboard reads, with its default. */
export const envSchema = baseSchema;

export type Env = z.infer<typeof envSchema>;

/** Days the audit trail is kept: AUDIT_RETENTION_DAYS, but never less than the logs (0: forever). */
export function auditRetentionDays(env: Pick<Env, 'RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS'>): number {
  if (env.RETENTION_DAYS === 0 || env.AUDIT_RETENTION_DAYS === 0) return 0;
  return Math.max(env.AUDIT_RETENTION_DAYS, env.RETENTION_DAYS);
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once. A bad value names the variable and what it expects. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        return `${name}: ${issue.message}`;
      }),
    );
  }
  return result.data;
}
