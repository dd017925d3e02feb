import { createHash } from 'node:crypto';
import { fakeId, type ProviderHandler, type RecordedRequest, type Reply } from '../../sandbox/fake-server.js';

/** The key the sandbox CRM takes (`X-Api-Key`), as a GENERIC integration's `credentials.headers` carry it. */
export const CRM_SANDBOX_API_KEY = 'crm_sandbox_key_0123456789abcdef';

export interface CrmClient {
  id: string;
  displayName: string;
  contact: { email: string | null; phone: string | null };
  reference: string;
  label: string | null;
  version: number;
}

export interface CrmDeal {
  id: string;
  title: string;
  clientId: string | null;
  value: { amount: number; currency: string } | null;
  stage: string;
  reference: string;
  version: number;
}

export interface CrmState {
  clients: Record<string, CrmClient>;
  deals: Record<string, CrmDeal>;
  /** Records created per Idempotency-Key: more than one is a duplicate. */
  createdPerKey: Record<string, number>;
}

const crmError = (status: number, error: string, details: string[] = []): Reply => ({ status, body: { error, status, details } });

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string' && v.length > 0;
const strOrNull: Check = (v) => v === null || typeof v === 'string';
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);

/**
 * A body against a schema: every key known, every required key present, each value of its type.
 * The CRM refuses anything else with 422, so a mapping must produce exactly its shape.
 */
function validate(body: unknown, schema: Record<string, { check: Check | Record<string, { check: Check; required: boolean }>; required: boolean }>, at = ''): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [`${at || 'body'} must be an object`];
  const problems: string[] = [];
  for (const key of Object.keys(body)) if (!schema[key]) problems.push(`unknown field ${at}${key}`);
  for (const [key, rule] of Object.entries(schema)) {
    const value = (body as Record<string, unknown>)[key];
    if (value === undefined) {
      if (rule.required) problems.push(`${at}${key} is required`);
      continue;
    }
    if (typeof rule.check === 'function') {
      if (!rule.check(value)) problems.push(`${at}${key} has the wrong type`);
    } else if (!(value === null && !rule.required)) problems.push(...validate(value, rule.check as never, `${at}${key}.`));
  }
  return problems;
}

const CLIENT_SCHEMA = {
  displayName: { check: str, required: true },
  contact: { check: { email: { check: strOrNull, required: true }, phone: { check: strOrNull, required: true } }, required: true },
  reference: { check: str, required: true },
  label: { check: strOrNull, required: false },
};
const DEAL_SCHEMA = {
  title: { check: str, required: true },
  clientId: { check: strOrNull, required: false },
  value: { check: { amount: { check: num, required: true }, currency: { check: str, required: true } }, required: false },
  stage: { check: (v: unknown) => ['open', 'won', 'lost', 'paused'].includes(String(v)), required: true },
  reference: { check: str, required: true },
};

/**
 * A custom CRM for the sandbox, in a shape of its own (not Switchboard's): `X-Api-Key` auth,
 * clients and deals created with POST (`/api/v2/clients`, `/api/v2/deals`; 201) and updated with
 * PATCH on the CRM's own id (200), answers wrapped in `{ "data": ... }`, strict bodies (422 with
 * the problems), and POSTs replayed by `Idempotency-Key`. What a GENERIC integration's mappings
 * are written against.
 */
export class CrmFake implements ProviderHandler {
  private s: CrmState = { clients: {}, deals: {}, createdPerKey: {} };
  private readonly replies = new Map<string, { fingerprint: string; reply: Reply }>();

  reset(): void {
    this.s = { clients: {}, deals: {}, createdPerKey: {} };
    this.replies.clear();
  }

  state(): CrmState {
    return this.s;
  }

  errorReply(status: number, message: string): Reply {
    return crmError(status, status === 429 ? 'rate_limited' : message);
  }

  handle(req: RecordedRequest): Reply {
    if (req.headers['x-api-key'] !== CRM_SANDBOX_API_KEY) return crmError(401, 'unauthorized', ['X-Api-Key is missing or wrong']);
    const path = req.path.split('?')[0];
    let body: unknown;
    try {
      body = req.body ? JSON.parse(req.body) : undefined;
    } catch {
      return crmError(400, 'invalid_json');
    }
    const key = req.headers['idempotency-key'];
    if (req.method === 'POST' && typeof key === 'string') {
      const fingerprint = createHash('sha256').update(`${path}\n${req.body}`).digest('hex');
      const seen = this.replies.get(key);
      if (seen) return seen.fingerprint === fingerprint ? { ...seen.reply, headers: { ...seen.reply.headers, 'idempotent-replayed': 'true' } } : crmError(422, 'idempotency_key_reused');
      const reply = this.route(req.method, path, body, key);
      if (reply.status < 300) this.replies.set(key, { fingerprint, reply });
      return reply;
    }
    return this.route(req.method, path, body, typeof key === 'string' ? key : undefined);
  }

  private route(method: string, path: string, body: unknown, key: string | undefined): Reply {
    const created = () => {
      if (key) this.s.createdPerKey[key] = (this.s.createdPerKey[key] ?? 0) + 1;
    };
    if (method === 'POST' && path === '/api/v2/clients') {
      const problems = validate(body, CLIENT_SCHEMA);
      if (problems.length) return crmError(422, 'validation', problems);
      const client: CrmClient = { id: fakeId('cl_'), version: 1, ...(body as Omit<CrmClient, 'id' | 'version'>) };
      client.label ??= null;
      this.s.clients[client.id] = client;
      created();
      return { status: 201, body: { data: client } };
    }
    let m = /^\/api\/v2\/clients\/([\w-]+)$/.exec(path);
    if (m && method === 'PATCH') {
      const client = this.s.clients[m[1]];
      if (!client) return crmError(404, 'not_found');
      const problems = validate(body, CLIENT_SCHEMA);
      if (problems.length) return crmError(422, 'validation', problems);
      Object.assign(client, body, { version: client.version + 1 });
      return { status: 200, body: { data: client } };
    }
    if (method === 'POST' && path === '/api/v2/deals') {
      const problems = validate(body, DEAL_SCHEMA);
      if (problems.length) return crmError(422, 'validation', problems);
      const deal: CrmDeal = { id: fakeId('dl_'), version: 1, ...(body as Omit<CrmDeal, 'id' | 'version'>) };
      deal.clientId ??= null;
      deal.value ??= null;
      if (deal.clientId && !this.s.clients[deal.clientId]) return crmError(422, 'validation', ['clientId names no client']);
      this.s.deals[deal.id] = deal;
      created();
      return { status: 201, body: { data: deal } };
    }
    m = /^\/api\/v2\/deals\/([\w-]+)$/.exec(path);
    if (m && method === 'PATCH') {
      const deal = this.s.deals[m[1]];
      if (!deal) return crmError(404, 'not_found');
      const problems = validate(body, DEAL_SCHEMA);
      if (problems.length) return crmError(422, 'validation', problems);
      Object.assign(deal, body, { version: deal.version + 1 });
      return { status: 200, body: { data: deal } };
    }
    return crmError(404, 'not_found', [`no route for ${method} ${path}`]);
  }
}
