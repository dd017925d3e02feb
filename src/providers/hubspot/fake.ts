import { randomUUID } from 'node:crypto';
import type { ProviderHandler, RecordedRequest, Reply } from '../../sandbox/fake-server.js';

export interface HubSpotState {
  contacts: Record<string, { id: string; properties: Record<string, string | null>; createdAt: string; updatedAt: string }>;
  deals: Record<string, { id: string; properties: Record<string, string | null>; associations: string[] }>;
}

const hsError = (status: number, category: string, message: string): Reply => ({
  status,
  body: { status: 'error', message, correlationId: randomUUID(), category },
});

/** HubSpot CRM v3: Bearer token, batch upsert by idProperty, string ids and values, 429 bodies. */
export class HubSpotFake implements ProviderHandler {
  private s: HubSpotState = { contacts: {}, deals: {} };
  private nextId = 51;

  reset() {
    this.s = { contacts: {}, deals: {} };
    this.nextId = 51;
  }

  state(): HubSpotState {
    return this.s;
  }

  errorReply(status: number, message: string): Reply {
    if (status === 429) {
      return { status, body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'TEN_SECONDLY_ROLLING' } };
    }
    return hsError(status, 'INTERNAL_ERROR', message);
  }

  /** A record made in HubSpot itself (a user in the CRM), as a webhook test needs it. */
  createObject(kind: 'contacts' | 'deals', properties: Record<string, string | null>, associations: string[] = []): string {
    const now = new Date().toISOString();
    const id = String(this.nextId++);
    const record = { id, properties: { ...properties, createdate: now, lastmodifieddate: now, hs_object_id: id }, createdAt: now, updatedAt: now, archived: false, associations };
    if (kind === 'contacts') this.s.contacts[id] = record;
    else this.s.deals[id] = record;
    return id;
  }

  handle(req: RecordedRequest): Reply {
    if (!/^Bearer \S+/.test(String(req.headers.authorization ?? ''))) return hsError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.');
    const now = new Date().toISOString();
    const path = req.path.split('?')[0];
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    const upsert = (store: Record<string, { id: string; properties: Record<string, string | null> }>, idProperty: string, inputs: Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>) => {
      const results = inputs.map((input) => {
        if (input.idProperty !== idProperty) throw new Error(`idProperty must be ${idProperty}`);
        const match = Object.values(store).find((r) => r.properties[idProperty] === input.id);
        const properties = Object.fromEntries(Object.entries(input.properties).map(([k, v]) => [k, v === null ? null : String(v)]));
        if (match) {
          Object.assign(match.properties, properties, { lastmodifieddate: now });
          return { ...match, new: false, updatedAt: now };
        }
        const record = { id: String(this.nextId++), properties: { ...properties, [idProperty]: input.id, createdate: now, lastmodifieddate: now }, createdAt: now, updatedAt: now, archived: false, associations: [] as string[] };
        store[record.id] = record;
        return { ...record, new: true };
      });
      return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
    };
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/batch/upsert') {
      const inputs = body.inputs as Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>;
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) return hsError(400, 'VALIDATION_ERROR', 'inputs must hold 1 to 100 records');
      if (inputs.some((i) => !/^[^@\s]+@[^@\s]+$/.test(i.id))) return hsError(400, 'VALIDATION_ERROR', 'Property values were not valid: email');
      return upsert(this.s.contacts as never, 'email', inputs);
    }
    if (req.method === 'POST' && path === '/crm/v3/objects/deals/batch/upsert') {
      const inputs = body.inputs as Array<{ id: string; idProperty: string; properties: Record<string, unknown> }>;
      return upsert(this.s.deals as never, 'switchboard_contract_id', inputs);
    }
    const read = /^\/crm\/v3\/objects\/(contacts|deals)\/(\w+)$/.exec(path);
    if (req.method === 'GET' && read) {
      const kind = read[1] as 'contacts' | 'deals';
      const record = (this.s[kind] as Record<string, { id: string; properties: Record<string, string | null>; createdAt?: string; updatedAt?: string; associations?: string[] }>)[read[2]];
      if (!record) return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.');
      const query = new URLSearchParams(req.path.split('?')[1] ?? '');
      const wanted = (query.get('properties') ?? '').split(',').filter(Boolean);
      // HubSpot returns the requested properties (null when unset) plus its defaults.
      const properties = Object.fromEntries(
        [...new Set([...wanted, 'createdate', 'lastmodifieddate', 'hs_object_id'])].map((k) => [k, record.properties[k] ?? null]),
      );
      const body: Record<string, unknown> = { id: record.id, properties, createdAt: record.createdAt ?? now, updatedAt: record.updatedAt ?? now, archived: false };
      if (kind === 'deals' && (query.get('associations') ?? '').split(',').includes('contacts')) {
        body.associations = { contacts: { results: (record.associations ?? []).map((id) => ({ id, type: 'deal_to_contact' })) } };
      }
      return { status: 200, body };
    }
    const assoc = /^\/crm\/v4\/objects\/deals\/(\w+)\/associations\/contacts\/(\w+)$/.exec(path);
    if (req.method === 'PUT' && assoc) {
      const deal = this.s.deals[assoc[1]];
      if (!deal || !this.s.contacts[assoc[2]]) return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found');
      if (!deal.associations.includes(assoc[2])) deal.associations.push(assoc[2]);
      return { status: 200, body: { fromObjectTypeId: '0-3', fromObjectId: Number(assoc[1]), toObjectTypeId: '0-1', toObjectId: Number(assoc[2]) } };
    }
    return hsError(404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${path}`);
  }
}
