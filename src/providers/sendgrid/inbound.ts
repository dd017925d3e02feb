import { LogStatus } from '../../domain/job/integration-log.entity.js';
import { jobFromRow } from '../../jobs/job-row.js';
import type { InboundHandler } from '../../webhooks/inbound-handler.js';
import { nonEmpty } from '../../webhooks/reconcile.js';

type Json = Record<string, any>;

/** SendGrid events that settle a notification's delivery, and the status each one means. */
const DELIVERY: Record<string, { status: 'DELIVERED' | 'BOUNCED' | 'DROPPED'; log: LogStatus }> = {
  delivered: { status: 'DELIVERED', log: LogStatus.SUCCESS },
  bounce: { status: 'BOUNCED', log: LogStatus.FAILED },
  dropped: { status: 'DROPPED', log: LogStatus.FAILED },
};

/**
 * SendGrid event webhook: delivered, bounce and dropped settle the delivery status of the
 * notification job that sent the mail, found by the key we put in custom_args (it comes back as
 * a top-level field) or by the X-Message-Id prefix of sg_message_id.
 */
export const sendgridHandler: InboundHandler = {
  async handle(ctx, payload) {
    const e = payload as Json;
    const kind = String(e.event);
    const delivery = DELIVERY[kind];
    if (!delivery) return { status: 'IGNORED', note: `SendGrid ${kind} events do not change a notification's delivery status` };
    const key = nonEmpty(e.switchboard_key);
    const messageId = nonEmpty(e.sg_message_id)?.split('.')[0] ?? null;
    const rows: Array<Record<string, unknown>> = await ctx.tx.query(
      `SELECT * FROM integration_job
       WHERE integration_id = $3 AND operation = 'notification.send'
         AND ((provider_idempotency_key = $1 AND $1 IS NOT NULL) OR (result->>'messageId' = $2 AND $2 IS NOT NULL))
       ORDER BY (provider_idempotency_key = $1) DESC NULLS LAST, id
       LIMIT 1 FOR UPDATE`,
      [key, messageId, ctx.integration.id],
    );
    if (rows.length === 0) return { status: 'IGNORED', note: 'no notification job matches this message' };
    const job = jobFromRow(rows[0]);
    const previous = (job.result?.delivery ?? null) as { at?: number } | null;
    const at = ctx.occurredAtMs;
    const reason = nonEmpty(e.reason) ?? nonEmpty(e.response) ?? null;
    ctx.addLog({
      eventType: `email.${kind}`,
      status: delivery.log,
      errorMsg: delivery.log === LogStatus.FAILED ? `${kind}: ${reason ?? 'no reason given'}` : null,
      jobId: job.id,
      response: { messageId, event: kind, bounceType: e.type ?? null },
    });
    if (previous?.at && previous.at > at) {
      ctx.notes.push('a newer delivery event was already applied');
      return { status: 'PROCESSED' };
    }
    // TypeORM answers an UPDATE with [rows, count].
    const [updated] = (await ctx.tx.query(
      `UPDATE integration_job SET result = jsonb_set(COALESCE(result, '{}'::jsonb), '{delivery}', $2::jsonb), updated_at = now()
       WHERE id = $1 RETURNING *`,
      [job.id, JSON.stringify({ status: delivery.status, at, reason, event: e.sg_event_id ?? null })],
    )) as [Array<Record<string, unknown>>, number];
    ctx.published.jobs.push(jobFromRow(updated[0]));
    ctx.notes.push(`notification job ${job.id}: ${delivery.status}`);
    return { status: 'PROCESSED' };
  },
};
