import type { DataSource, EntityManager } from 'typeorm';
import { Integration, IntegrationStatus, Provider } from '../domain/integration/integration.entity.js';
import { badInput, conflict, notFound } from '../domain/shared/errors.js';
import { newId } from '../domain/shared/ids.js';
import { parsePage, toConnection, type Connection, type PageArgs } from '../domain/shared/pagination.js';
import { optionalEmail, requiredText } from '../domain/shared/validation.js';
import { recordAudit } from '../observability/audit.js';
import { AlertKind, AlertRule } from './alert-rule.entity.js';
import { Alert, AlertStatus } from './alert.entity.js';

/** What a rule is made of; ids are row ids (the resolver decodes global ids). */
export interface AlertRuleInput {
  name?: string | null;
  kind?: AlertKind | null;
  integrationId?: string | null;
  threshold?: number | null;
  resolveThreshold?: number | null;
  resolveAfterEvaluations?: number | null;
  minAttempts?: number | null;
  windowSeconds?: number | null;
  enabled?: boolean | null;
  notifyIntegrationId?: string | null;
  notifyEmail?: string | null;
}

export interface AlertFilter {
  status?: AlertStatus | null;
  integrationId?: string | null;
  ruleId?: string | null;
}

export const DEFAULT_WINDOW_SECONDS = 300;
export const DEFAULT_RESOLVE_AFTER = 3;
export const DEFAULT_MIN_ATTEMPTS = 10;
const MAX_WINDOW_SECONDS = 7 * 24 * 3600;
/** Rules a deployment may hold: every round evaluates them all, and alertRules lists them unpaged. */
export const MAX_ALERT_RULES = 200;
/** Fields of a rule that are personal data in the audit trail. */
const AUDIT_PERSONAL = ['notifyEmail'] as const;

/** The range each kind's threshold must lie in, and what its value is (for the error message). */
const THRESHOLDS: Record<AlertKind, { min: number; minInclusive: boolean; max: number; unit: string }> = {
  [AlertKind.FAILURE_RATE]: { min: 0, minInclusive: false, max: 1, unit: 'a share of failed attempts, above 0 and at most 1' },
  [AlertKind.QUEUE_LAG]: { min: 0, minInclusive: false, max: 30 * 24 * 3600, unit: 'seconds, above 0 and at most 30 days' },
  [AlertKind.CIRCUIT_OPEN]: { min: 0, minInclusive: false, max: 1, unit: 'above 0 and at most 1 (the value is 1 while a circuit is open)' },
  [AlertKind.WEBHOOK_FAILURES]: { min: 1, minInclusive: true, max: 1_000_000, unit: 'a count, from 1 to 1,000,000' },
  [AlertKind.SYNC_FAILED]: { min: 1, minInclusive: true, max: 1_000_000, unit: 'a count, from 1 to 1,000,000' },
};

/** Kinds measured as a level (rate, age): they resolve below 80 % of the threshold unless told otherwise. */
const LEVEL_KINDS = new Set([AlertKind.FAILURE_RATE, AlertKind.QUEUE_LAG]);

export function defaultResolveThreshold(kind: AlertKind, threshold: number): number {
  return LEVEL_KINDS.has(kind) ? threshold * 0.8 : threshold;
}

function wholeNumber(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `${field} must be a whole number from ${min} to ${max}`);
  return value;
}

/** Alert rules (create, change, delete) and the alerts they fired. Evaluation is AlertEvaluator's. */
export class AlertService {
  constructor(private readonly db: DataSource) {}

  async createRule(input: AlertRuleInput): Promise<AlertRule> {
    return this.db.transaction(async (tx) => {
      // Serialises creates, so two at once cannot pass the cap together.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:alert-rules'))`);
      const [{ n }] = (await tx.query(`SELECT count(*)::int AS n FROM alert_rule`)) as Array<{ n: number }>;
      if (n >= MAX_ALERT_RULES) throw conflict(`at most ${MAX_ALERT_RULES} alert rules; delete one first`);
      const kind = input.kind!;
      if (!Object.values(AlertKind).includes(kind)) throw badInput('input.kind', 'input.kind is not an AlertKind');
      const rule = Object.assign(new AlertRule(), {
        id: newId(),
        name: requiredText(input.name, 'input.name', 200),
        kind,
        integrationId: null,
        threshold: 0,
        resolveThreshold: 0,
        resolveAfterEvaluations: DEFAULT_RESOLVE_AFTER,
        minAttempts: DEFAULT_MIN_ATTEMPTS,
        windowSeconds: DEFAULT_WINDOW_SECONDS,
        enabled: true,
        notifyIntegrationId: null,
        notifyEmail: null,
        clearStreak: 0,
        lastValue: null,
        lastEvaluatedAt: null,
        createdAt: new Date(),
        updatedAt: new Date(),
      });
      await this.apply(tx, rule, input, true);
      await tx.getRepository(AlertRule).insert(rule);
      await recordAudit(tx, { action: 'createAlertRule', targetType: 'AlertRule', targetId: rule.id, after: this.auditView(rule), personal: AUDIT_PERSONAL });
      return rule;
    });
  }

  async updateRule(id: string, input: AlertRuleInput): Promise<AlertRule> {
    return this.db.transaction(async (tx) => {
      const rule = await tx.getRepository(AlertRule).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!rule) throw notFound('AlertRule');
      const before = this.auditView(rule);
      await this.apply(tx, rule, input, false);
      rule.updatedAt = new Date();
      // A changed condition starts its clear count afresh.
      rule.clearStreak = 0;
      await tx.getRepository(AlertRule).save(rule);
      await recordAudit(tx, { action: 'updateAlertRule', targetType: 'AlertRule', targetId: rule.id, before, after: this.auditView(rule), personal: AUDIT_PERSONAL });
      return rule;
    });
  }

  /** Deletes the rule and its alerts; returns the rule as it was. */
  async deleteRule(id: string): Promise<AlertRule> {
    return this.db.transaction(async (tx) => {
      const rule = await tx.getRepository(AlertRule).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!rule) throw notFound('AlertRule');
      await tx.query(`DELETE FROM alert_rule WHERE id = $1`, [id]);
      await recordAudit(tx, { action: 'deleteAlertRule', targetType: 'AlertRule', targetId: rule.id, before: this.auditView(rule), personal: AUDIT_PERSONAL });
      return rule;
    });
  }

  /** Checks and applies `input` onto `rule` (every field on create, the given ones on update). */
  private async apply(tx: EntityManager, rule: AlertRule, input: AlertRuleInput, creating: boolean): Promise<void> {
    if (!creating && input.name != null) rule.name = requiredText(input.name, 'input.name', 200);
    if (input.integrationId !== undefined) rule.integrationId = input.integrationId ? (await this.integration(tx, input.integrationId, 'input.integrationId')).id : null;

    const range = THRESHOLDS[rule.kind];
    if (creating && input.threshold == null) throw badInput('input.threshold', 'input.threshold is required');
    const thresholdChanged = input.threshold != null;
    if (input.threshold != null) {
      const t = input.threshold;
      if (!Number.isFinite(t) || (range.minInclusive ? t < range.min : t <= range.min) || t > range.max) {
        throw badInput('input.threshold', `input.threshold for ${rule.kind} is ${range.unit}`);
      }
      rule.threshold = t;
    }
    if (input.resolveThreshold != null) {
      const r = input.resolveThreshold;
      if (!Number.isFinite(r) || r < 0 || r > rule.threshold) throw badInput('input.resolveThreshold', 'input.resolveThreshold must be from 0 to threshold');
      rule.resolveThreshold = r;
    } else if (thresholdChanged) rule.resolveThreshold = defaultResolveThreshold(rule.kind, rule.threshold);
    if (rule.resolveThreshold > rule.threshold) throw badInput('input.threshold', 'input.threshold must not be below the rule\'s resolveThreshold (give both)');

    if (input.resolveAfterEvaluations != null) rule.resolveAfterEvaluations = wholeNumber(input.resolveAfterEvaluations, 'input.resolveAfterEvaluations', 1, 100);
    if (input.minAttempts != null) rule.minAttempts = wholeNumber(input.minAttempts, 'input.minAttempts', 1, 100_000);
    if (input.windowSeconds != null) {
      if (!Number.isInteger(input.windowSeconds) || input.windowSeconds <= 0 || input.windowSeconds > MAX_WINDOW_SECONDS) {
        throw badInput('input.windowSeconds', `input.windowSeconds must be a whole number above 0 and at most ${MAX_WINDOW_SECONDS} (7 days)`);
      }
      rule.windowSeconds = input.windowSeconds;
    }
    if (input.enabled != null) rule.enabled = input.enabled;

    if (input.notifyIntegrationId !== undefined) {
      if (input.notifyIntegrationId) {
        const target = await this.integration(tx, input.notifyIntegrationId, 'input.notifyIntegrationId');
        if (target.provider !== Provider.SENDGRID) throw badInput('input.notifyIntegrationId', `input.notifyIntegrationId must be a SENDGRID integration (this one is ${target.provider})`);
        if (target.status === IntegrationStatus.DISABLED) throw badInput('input.notifyIntegrationId', 'input.notifyIntegrationId names a disabled integration');
        rule.notifyIntegrationId = target.id;
      } else rule.notifyIntegrationId = null;
    }
    if (input.notifyEmail !== undefined) rule.notifyEmail = optionalEmail(input.notifyEmail, 'input.notifyEmail');
    if (rule.notifyIntegrationId && !rule.notifyEmail) throw badInput('input.notifyEmail', 'input.notifyEmail is required with notifyIntegrationId');
    if (rule.notifyEmail && !rule.notifyIntegrationId) throw badInput('input.notifyIntegrationId', 'input.notifyIntegrationId (a SENDGRID integration) is required with notifyEmail');
  }

  private async integration(tx: EntityManager, id: string, field: string): Promise<Integration> {
    const integration = await tx.findOneBy(Integration, { id });
    if (!integration) throw badInput(field, `${field} names no integration`);
    return integration;
  }

  /** The rule as the audit trail shows it (recordAudit masks notifyEmail as personal data: AUDIT_PERSONAL). */
  private auditView(rule: AlertRule): Record<string, unknown> {
    return {
      name: rule.name, kind: rule.kind, integrationId: rule.integrationId, threshold: rule.threshold, resolveThreshold: rule.resolveThreshold,
      resolveAfterEvaluations: rule.resolveAfterEvaluations, minAttempts: rule.minAttempts, windowSeconds: rule.windowSeconds, enabled: rule.enabled,
      notifyIntegrationId: rule.notifyIntegrationId, notifyEmail: rule.notifyEmail,
    };
  }

  /** FIRING alerts by rule kind, every kind present (0 when none): the switchboard_alerts_firing gauge. */
  async firingByKind(): Promise<Record<AlertKind, number>> {
    const rows = (await this.db.query(
      `SELECT r.kind, count(*)::int AS n FROM alert a JOIN alert_rule r ON r.id = a.rule_id WHERE a.status = 'FIRING' GROUP BY r.kind`,
    )) as Array<{ kind: AlertKind; n: number }>;
    const counts = Object.fromEntries(Object.values(AlertKind).map((k) => [k, 0])) as Record<AlertKind, number>;
    for (const r of rows) counts[r.kind] = r.n;
    return counts;
  }

  /** Every rule, oldest first (an operator keeps tens, not thousands). */
  listRules(): Promise<AlertRule[]> {
    return this.db.getRepository(AlertRule).find({ order: { id: 'ASC' } });
  }

  async findRulesByIds(ids: readonly string[]): Promise<AlertRule[]> {
    if (ids.length === 0) return [];
    return this.db.getRepository(AlertRule).createQueryBuilder('r').where('r.id = ANY(:ids)', { ids: [...ids] }).getMany();
  }

  /** The FIRING alert of each rule that has one. */
  async firingOf(ruleIds: readonly string[]): Promise<Alert[]> {
    if (ruleIds.length === 0) return [];
    return this.db.getRepository(Alert).createQueryBuilder('a').where('a.rule_id = ANY(:ids) AND a.status = :firing', { ids: [...ruleIds], firing: AlertStatus.FIRING }).getMany();
  }

  async findByIds(ids: readonly string[]): Promise<Alert[]> {
    if (ids.length === 0) return [];
    return this.db.getRepository(Alert).createQueryBuilder('a').where('a.id = ANY(:ids)', { ids: [...ids] }).getMany();
  }

  /** Alerts, newest first; by status, the rule's integration, or the rule. */
  async list(filter: AlertFilter, page: PageArgs): Promise<Connection<Alert>> {
    const { limit, afterId } = parsePage(page);
    const qb = this.db.getRepository(Alert).createQueryBuilder('a');
    if (filter.status) qb.andWhere('a.status = :status', { status: filter.status });
    if (filter.integrationId) qb.andWhere('a.integration_id = :integrationId', { integrationId: filter.integrationId });
    if (filter.ruleId) qb.andWhere('a.rule_id = :ruleId', { ruleId: filter.ruleId });
    const countQb = qb.clone();
    let total: Promise<number> | undefined;
    const totalCount = () => (total ??= countQb.getCount());
    if (limit === 0) return toConnection([], 0, totalCount);
    if (afterId) qb.andWhere('a.id < :after', { after: afterId });
    const rows = await qb.orderBy('a.id', 'DESC').limit(limit + 1).getMany();
    return toConnection(rows, limit, totalCount);
  }
}
