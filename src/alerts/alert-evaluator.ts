import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { Integration, IntegrationStatus, Provider } from '../domain/integration/integration.entity.js';
import type { IntegrationJob } from '../domain/job/integration-job.entity.js';
import { newId } from '../domain/shared/ids.js';
import type { AlertEvent, EventBus } from '../jobs/job-events.js';
import type { JobService } from '../jobs/job.service.js';
import { alertEvaluations, alertTransitions } from '../observability/metrics.js';
import { AlertKind, AlertRule } from './alert-rule.entity.js';
import { AlertStatus } from './alert.entity.js';

export interface AlertEvaluatorOptions {
  /** ALERT_EVAL_INTERVAL_MS: how often the rules are evaluated (by one worker process at a time). */
  intervalMs: number;
  /** ALERT_EMAIL_FROM: the sender of alert emails. */
  fromEmail: string;
}

/** One rule's measurement: null when there is nothing to judge by (FAILURE_RATE under minAttempts). */
interface Measurement {
  value: number | null;
  /** What was measured, in words, for the alert's message. */
  detail: string;
}

interface IntegrationInfo {
  id: string;
  name: string;
  provider: string;
  circuit: string;
}

/** A rule row with its FIRING alert, if any. */
type RuleRow = AlertRule & { firingId: string | null; firingValue: number | null; firingMessage: string | null };

/** `$1` the integration (null: all), `$2` the window in seconds (QUEUE_LAG measures now: it only types `$2`, which every statement is sent). */
const MEASURES: Record<AlertKind, string> = {
  [AlertKind.FAILURE_RATE]: `SELECT count(*)::int AS attempts, count(*) FILTER (WHERE status = 'FAILED')::int AS failed
    FROM integration_log WHERE direction = 'OUTBOUND' AND job_id IS NOT NULL AND "timestamp" >= now() - $2::int * interval '1 second'
      AND ($1::uuid IS NULL OR integration_id = $1::uuid)`,
  [AlertKind.QUEUE_LAG]: `SELECT count(*)::int AS waiting, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
    FROM integration_job WHERE status IN ('PENDING', 'RETRYING') AND ($1::uuid IS NULL OR integration_id = $1::uuid) AND $2::int > 0`,
  // The circuit answers from integration rows (CIRCUIT_OPEN is read from the info map, no statement).
  [AlertKind.CIRCUIT_OPEN]: '',
  [AlertKind.WEBHOOK_FAILURES]: `SELECT
      (SELECT COALESCE(sum(CASE WHEN jsonb_typeof(request->'rejected') = 'number' THEN (request->>'rejected')::int ELSE 1 END), 0)::int
         FROM integration_log WHERE event_type = 'webhook.rejected' AND "timestamp" >= now() - $2::int * interval '1 second'
           AND ($1::uuid IS NULL OR integration_id = $1::uuid)) AS rejected,
      (SELECT count(*)::int FROM webhook_event WHERE status = 'FAILED' AND processed_at >= now() - $2::int * interval '1 second'
           AND ($1::uuid IS NULL OR integration_id = $1::uuid)) AS failed`,
  [AlertKind.SYNC_FAILED]: `SELECT count(*)::int AS failed FROM sync_run
    WHERE status = 'FAILED' AND finished_at >= now() - $2::int * interval '1 second' AND ($1::uuid IS NULL OR integration_id = $1::uuid)`,
};

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Evaluates the alert rules every intervalMs in worker roles. One process evaluates at a time:
 * the round runs in a transaction holding the single alert_evaluator row (FOR UPDATE SKIP LOCKED),
 * and a process that finds the last round younger than most of an interval skips its turn. An
 * alert fires once (one FIRING per rule, a partial unique index) when the value reaches the
 * threshold, and resolves once the value has stayed below resolveThreshold for
 * resolveAfterEvaluations rounds (hysteresis: no flapping around the threshold). Firing and
 * resolving commit with their email job (the rule's SENDGRID integration, through the outbound
 * engine's retries and circuit) and their alertUpdated event.
 */
export class AlertEvaluator {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly jobs: JobService,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly options: AlertEvaluatorOptions,
  ) {}

  start(): void {
    this.schedule(Math.min(this.options.intervalMs, 1_000));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.evaluate()
        .catch((err: unknown) => this.log.warn({ err }, 'alert evaluation failed; the next round tries again'))
        .finally(() => {
          this.round = null;
          // A little jitter so that worker processes started together do not keep meeting at the lock.
          this.schedule(this.options.intervalMs * (0.9 + Math.random() * 0.2));
        });
    }, delayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  /** One round, if it is this process's turn. True when it evaluated. */
  async evaluate(): Promise<boolean> {
    const jobs: IntegrationJob[] = [];
    const changed: AlertEvent[] = [];
    const transitions: Array<{ kind: AlertKind; status: AlertStatus }> = [];
    const evaluated = await this.db.transaction(async (tx) => {
      const [turn] = (await tx.query(
        `SELECT last_run_at IS NOT NULL AND last_run_at > now() - $1::float8 * interval '1 ms' AS recent FROM alert_evaluator WHERE id = 1 FOR UPDATE SKIP LOCKED`,
        [this.options.intervalMs * 0.8],
      )) as Array<{ recent: boolean }>;
      if (!turn || turn.recent) return false;
      await tx.query(`UPDATE alert_evaluator SET last_run_at = now() WHERE id = 1`);

      const rules = (await tx.query(
        `SELECT r.*, a.id AS firing_id, a.value AS firing_value, a.message AS firing_message
         FROM alert_rule r LEFT JOIN alert a ON a.rule_id = r.id AND a.status = 'FIRING'
         ORDER BY r.id FOR NO KEY UPDATE OF r`,
      )) as Array<Record<string, unknown>>;
      if (rules.length === 0) return true;
      const integrations = new Map(
        ((await tx.query(`SELECT id, name, provider, circuit FROM integration`)) as IntegrationInfo[]).map((i) => [i.id, i]),
      );

      for (const raw of rules) {
        const rule = ruleFromRow(raw);
        const m = rule.enabled ? await this.measure(tx, rule, integrations) : { value: null, detail: 'the rule was disabled' };
        let clearStreak = 0;
        if (!rule.firingId) {
          if (rule.enabled && m.value !== null && m.value >= rule.threshold) {
            const alert = await this.fire(tx, rule, m);
            if (alert) {
              changed.push(alert.event);
              transitions.push({ kind: rule.kind, status: AlertStatus.FIRING });
              jobs.push(...alert.jobs);
            }
          }
        } else {
          const clear = m.value === null || m.value < rule.resolveThreshold;
          clearStreak = clear ? rule.clearStreak + 1 : 0;
          if (!rule.enabled || (clear && clearStreak >= rule.resolveAfterEvaluations)) {
            const resolved = await this.resolve(tx, rule, m);
            changed.push(resolved.event);
            transitions.push({ kind: rule.kind, status: AlertStatus.RESOLVED });
            jobs.push(...resolved.jobs);
            clearStreak = 0;
          }
        }
        await tx.query(`UPDATE alert_rule SET clear_streak = $2, last_value = $3, last_evaluated_at = now() WHERE id = $1`, [rule.id, clearStreak, m.value]);
      }
      // Subscribers on every API process hear of it with the commit, whichever worker evaluated.
      await this.events.publishWithCommit(tx, 'alert.updated', changed);
      return true;
    });
    if (!evaluated) return false;
    alertEvaluations.inc();
    this.jobs.announce(jobs);
    for (const event of changed) this.events.publish('alert.updated', event);
    for (const t of transitions) alertTransitions.inc({ kind: t.kind, status: t.status });
    return true;
  }

  private async measure(tx: EntityManager, rule: AlertRule, integrations: Map<string, IntegrationInfo>): Promise<Measurement> {
    const where = scopeOf(rule, integrations);
    const window = `in the last ${rule.windowSeconds} s`;
    if (rule.kind === AlertKind.CIRCUIT_OPEN) {
      const open = [...integrations.values()].filter((i) => (!rule.integrationId || i.id === rule.integrationId) && i.circuit !== 'CLOSED');
      return {
        value: open.length,
        detail: open.length ? `circuit not closed for ${open.map((i) => `"${i.name}" (${i.provider}, ${i.circuit})`).join(', ')}` : `every circuit is closed ${where}`,
      };
    }
    const [row] = (await tx.query(MEASURES[rule.kind], [rule.integrationId, rule.windowSeconds])) as Array<Record<string, number>>;
    switch (rule.kind) {
      case AlertKind.FAILURE_RATE: {
        if (row.attempts < rule.minAttempts) return { value: null, detail: `${row.attempts} outbound attempts ${window} ${where}, fewer than the ${rule.minAttempts} a rate needs` };
        const rate = row.failed / row.attempts;
        return { value: rate, detail: `${round(rate * 100, 1)} % of ${row.attempts} outbound attempts failed ${window} ${where} (threshold ${round(rule.threshold * 100, 1)} %)` };
      }
      case AlertKind.QUEUE_LAG:
        return { value: row.oldest, detail: `the oldest of ${row.waiting} waiting jobs ${where} has waited ${round(row.oldest, 1)} s (threshold ${rule.threshold} s)` };
      case AlertKind.WEBHOOK_FAILURES:
        return {
          value: row.rejected + row.failed,
          detail: `${row.rejected + row.failed} webhook failures ${window} ${where}: ${row.rejected} requests rejected, ${row.failed} events failed processing (threshold ${rule.threshold})`,
        };
      case AlertKind.SYNC_FAILED:
        return { value: row.failed, detail: `${row.failed} sync runs FAILED ${window} ${where} (threshold ${rule.threshold})` };
      default:
        throw new Error(`unknown alert kind ${String(rule.kind)}`);
    }
  }

  private async fire(tx: EntityManager, rule: RuleRow, m: Measurement): Promise<{ event: AlertEvent; jobs: IntegrationJob[] } | null> {
    const id = newId();
    const message = `${rule.name}: ${m.detail}`.slice(0, 2_000);
    const inserted = (await tx.query(
      `INSERT INTO alert (id, rule_id, integration_id, status, value, message, fired_at) VALUES ($1, $2, $3, 'FIRING', $4, $5, now())
       ON CONFLICT (rule_id) WHERE status = 'FIRING' DO NOTHING RETURNING id`,
      [id, rule.id, rule.integrationId, m.value, message],
    )) as Array<{ id: string }>;
    if (inserted.length === 0) return null;
    this.log.warn({ alertId: id, ruleId: rule.id, kind: rule.kind, value: m.value }, 'alert fired');
    const jobs = await this.notify(tx, rule, id, 'FIRING', `${message}\n\nValue ${round(m.value!, 4)}, threshold ${rule.threshold}.`);
    return { event: { id, ruleId: rule.id, integrationId: rule.integrationId, status: AlertStatus.FIRING }, jobs };
  }

  private async resolve(tx: EntityManager, rule: RuleRow, m: Measurement): Promise<{ event: AlertEvent; jobs: IntegrationJob[] }> {
    const id = rule.firingId!;
    await tx.query(`UPDATE alert SET status = 'RESOLVED', resolved_at = now(), resolved_value = $2 WHERE id = $1`, [id, m.value]);
    this.log.info({ alertId: id, ruleId: rule.id, kind: rule.kind, value: m.value }, 'alert resolved');
    const text = `${rule.firingMessage ?? rule.name}\n\nResolved: ${m.detail}.`;
    const jobs = await this.notify(tx, rule, id, 'RESOLVED', text);
    return { event: { id, ruleId: rule.id, integrationId: rule.integrationId, status: AlertStatus.RESOLVED }, jobs };
  }

  /**
   * The email job, through the outbound engine like any other: retries, circuit and rate limit
   * apply, and its idempotency key makes a repeated round enqueue nothing twice.
   */
  private async notify(tx: EntityManager, rule: RuleRow, alertId: string, status: 'FIRING' | 'RESOLVED', text: string): Promise<IntegrationJob[]> {
    if (!rule.notifyIntegrationId || !rule.notifyEmail) return [];
    const integration = await tx.findOneBy(Integration, { id: rule.notifyIntegrationId });
    if (!integration || integration.provider !== Provider.SENDGRID || integration.status === IntegrationStatus.DISABLED) {
      this.log.warn({ alertId, ruleId: rule.id }, 'alert email not sent: the rule\'s notify integration is gone, not SENDGRID, or disabled');
      return [];
    }
    const job = await this.jobs.enqueue(tx, {
      integration,
      operation: 'notification.send',
      entityType: null,
      entityId: null,
      idempotencyKey: `alert-${alertId}-${status.toLowerCase()}`,
      correlationId: `alert-${alertId}`,
      payload: {
        to: rule.notifyEmail,
        from: this.options.fromEmail,
        kind: status === 'FIRING' ? 'alert.fired' : 'alert.resolved',
        subject: `[Switchboard] ${status}: ${rule.name}`.slice(0, 200),
        text,
        data: {},
        customerId: null,
        invoiceId: null,
      },
    });
    return [job];
  }
}

function scopeOf(rule: AlertRule, integrations: Map<string, IntegrationInfo>): string {
  if (!rule.integrationId) return 'across all integrations';
  const i = integrations.get(rule.integrationId);
  return i ? `for "${i.name}" (${i.provider})` : 'for a deleted integration';
}

function ruleFromRow(r: Record<string, unknown>): RuleRow {
  return Object.assign(new AlertRule(), {
    id: r.id as string,
    name: r.name as string,
    kind: r.kind as AlertKind,
    integrationId: (r.integration_id as string | null) ?? null,
    threshold: Number(r.threshold),
    resolveThreshold: Number(r.resolve_threshold),
    resolveAfterEvaluations: Number(r.resolve_after),
    minAttempts: Number(r.min_attempts),
    windowSeconds: Number(r.window_seconds),
    enabled: r.enabled as boolean,
    notifyIntegrationId: (r.notify_integration_id as string | null) ?? null,
    notifyEmail: (r.notify_email as string | null) ?? null,
    clearStreak: Number(r.clear_streak),
    lastValue: r.last_value === null ? null : Number(r.last_value),
    lastEvaluatedAt: (r.last_evaluated_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    firingId: (r.firing_id as string | null) ?? null,
    firingValue: r.firing_value === null || r.firing_value === undefined ? null : Number(r.firing_value),
    firingMessage: (r.firing_message as string | null) ?? null,
  });
}
