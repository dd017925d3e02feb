import { Provider } from '../../domain/integration/integration.entity.js';
import { ProviderError, type Connector, type HttpExchange } from '../connector.js';
import { classifyStatus, parseRetryAfter, send } from '../http.js';
import { maskBody } from '../../observability/masking.js';

/**
 * SendGrid Mail Send with a dynamic template, or (no templateId: the gateway's own alert emails)
 * a plain-text subject and body. 202 means queued; delivery arrives later as events. SendGrid has no idempotency key: the job's key travels in custom_args so that a
 * duplicate send after a lost answer can be recognised in the event stream.
 */
export const sendgridConnector: Connector = {
  provider: Provider.SENDGRID,
  operations: {
    async 'notification.send'(p, key, ctx) {
      const log: HttpExchange[] = [];
      const body = {
        from: { email: p.from },
        ...(p.templateId
          ? { personalizations: [{ to: [{ email: p.to }], dynamic_template_data: p.data ?? {} }], template_id: p.templateId }
          : { personalizations: [{ to: [{ email: p.to }] }], subject: String(p.subject ?? ''), content: [{ type: 'text/plain', value: String(p.text ?? '') }] }),
        custom_args: {
          switchboard_key: key,
          kind: String(p.kind ?? 'notification'),
          ...(p.invoiceId ? { invoice_id: String(p.invoiceId) } : {}),
          ...(p.customerId ? { customer_id: String(p.customerId) } : {}),
        },
      };
      const res = await send(ctx, {
        method: 'POST',
        path: '/v3/mail/send',
        headers: { authorization: `Bearer ${String(ctx.credentials.apiKey)}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        maskedRequest: maskBody(body),
      });
      res.exchange.response = maskBody(res.body);
      log.push(res.exchange);
      if (res.status === 202 || res.status === 200) {
        return { links: [], exchanges: log, summary: { messageId: res.headers.get('x-message-id') } };
      }
      const errors = (res.body as { errors?: Array<{ message?: string; field?: string | null }> } | null)?.errors ?? [];
      const message = `SendGrid ${res.status}: ${errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ') || 'no message'}`;
      const reset = res.headers.get('x-ratelimit-reset');
      const retryAfter = parseRetryAfter(res.headers.get('retry-after')) ?? (reset ? Math.max(0, Number(reset) * 1000 - Date.now()) : null);
      throw classifyStatus(res.status, message, retryAfter, log);
    },
  },
};

