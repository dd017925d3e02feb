import { randomBytes } from 'node:crypto';
import type { ProviderHandler, RecordedRequest, Reply } from '../../sandbox/fake-server.js';

export interface SendGridState {
  messages: Array<{ messageId: string; body: Record<string, unknown> }>;
}

const sgError = (status: number, message: string, field: string | null = null): Reply => ({ status, body: { errors: [{ message, field, help: null }] } });

/** SendGrid Mail Send: Bearer SG. key, 202 with X-Message-Id, errors[] bodies, X-RateLimit headers. */
export class SendGridFake implements ProviderHandler {
  private s: SendGridState = { messages: [] };

  reset() {
    this.s = { messages: [] };
  }

  state(): SendGridState {
    return this.s;
  }

  errorReply(status: number, message: string): Reply {
    const reply = sgError(status, status === 429 ? 'too many requests' : message);
    if (status === 429) reply.headers = { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1) };
    return reply;
  }

  handle(req: RecordedRequest): Reply {
    if (!/^Bearer SG\.\S+/.test(String(req.headers.authorization ?? ''))) return sgError(401, 'The provided authorization grant is invalid, expired, or revoked');
    if (req.method !== 'POST' || req.path !== '/v3/mail/send') return sgError(404, 'Not found');
    const body = JSON.parse(req.body || '{}') as Record<string, unknown>;
    if (!(body.from as { email?: string } | undefined)?.email) return sgError(400, 'The from object must be provided for every email send.', 'from');
    const personalizations = body.personalizations as Array<{ to?: unknown[] }> | undefined;
    if (!personalizations?.length || !personalizations.every((p) => Array.isArray(p.to) && p.to.length)) {
      return sgError(400, 'The personalizations field is required and must have at least one personalization.', 'personalizations');
    }
    const content = body.content as Array<{ type?: string; value?: string }> | undefined;
    if (!body.template_id && !content?.some((c) => c.type && c.value)) {
      return sgError(400, 'Unless a valid template_id is provided, the content parameter is required.', 'content');
    }
    if (!body.template_id && !body.subject) return sgError(400, 'The subject is required. You can get around this requirement if you use a template with a subject defined.', 'subject');
    const messageId = randomBytes(16).toString('base64url');
    this.s.messages.push({ messageId, body });
    return { status: 202, headers: { 'x-message-id': messageId } };
  }
}
