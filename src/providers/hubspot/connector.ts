import { Provider } from '../../domain/integration/integration.entity.js';
import { ProviderError, type CallContext, type Connector, type HttpExchange } from '../connector.js';
import { classifyStatus, parseRetryAfter, send } from '../http.js';
import { maskBody } from '../../observability/masking.js';

/** The unique deal property that makes deal writes idempotent (see docs/integrations/hubspot.md). */
export const DEAL_ID_PROPERTY = 'switchboard_contract_id';

async function call(ctx: CallContext, method: string, path: string, body: unknown, log: HttpExchange[]): Promise<Record<string, unknown>> {
  const res = await send(ctx, {
    method,
    path,
    headers: { authorization: `Bearer ${String(ctx.credentials.accessToken)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    maskedRequest: maskBody(body),
  });
  res.exchange.response = maskBody(res.body);
  log.push(res.exchange);
  const payload = (res.body ?? {}) as { message?: string; category?: string; errors?: Array<{ message?: string }>; numErrors?: number };
  // A batch answers 207 when some inputs failed: with one input, that input failed.
  if (res.status === 207 || (res.status >= 200 && res.status < 300 && payload.numErrors)) {
    throw new ProviderError('client', `HubSpot rejected the record: ${payload.errors?.[0]?.message ?? 'partial failure'}`, false, res.status, null, log);
  }
  if (res.status >= 200 && res.status < 300) return res.body as Record<string, unknown>;
  const message = `HubSpot ${res.status} ${payload.category ?? 'error'}: ${payload.message ?? 'no message'}`;
  throw classifyStatus(res.status, message, parseRetryAfter(res.headers.get('retry-after')), log);
}

/** Whether the record already holds every one of these property values (a 404: it does not). */
async function holds(ctx: CallContext, kind: 'contacts' | 'deals', id: string, properties: Record<string, string>, log: HttpExchange[]): Promise<boolean> {
  const names = Object.keys(properties);
  try {
    const record = (await call(ctx, 'GET', `/crm/v3/objects/${kind}/${encodeURIComponent(id)}?properties=${names.map(encodeURIComponent).join(',')}`, undefined, log)) as { properties?: Record<string, string | null> };
    return names.every((k) => (record.properties?.[k] ?? '') === properties[k]);
  } catch (err) {
    if (err instanceof ProviderError && err.httpStatus === 404) return false;
    throw err;
  }
}

function splitName(name: string): { firstname: string; lastname: string } {
  const parts = name.trim().split(/\s+/);
  return parts.length > 1 ? { firstname: parts.slice(0, -1).join(' '), lastname: parts.at(-1)! } : { firstname: parts[0] ?? '', lastname: '' };
}

/**
 * HubSpot: contacts are upserted by email (batch upsert with idProperty=email), so a repeated
 * attempt updates the same contact; deals are upserted by a unique custom property holding the
 * contract id, for the same reason. HubSpot has no idempotency-key header.
 */
export const hubspotConnector: Connector = {
  provider: Provider.HUBSPOT,
  operations: {
    async 'customer.upsert'(p, _key, ctx) {
      const log: HttpExchange[] = [];
      if (!p.email) throw new ProviderError('client', 'HubSpot contacts are keyed by email: this customer has none', false);
      const properties = { email: String(p.email).toLowerCase(), ...splitName(String(p.name)), phone: String(p.phone ?? ''), switchboard_id: String(p.customerId) };
      // A linked contact is updated by its id: an upsert keyed by the new email after an email
      // change would make a second contact and leave the linked one stale (found by the soak).
      const linked = await ctx.refs('Customer', String(p.customerId));
      let contact: { id: string; new?: boolean } | undefined;
      // A repair (see ReconcileContext.applyOwned) reads first: nothing is written back that HubSpot holds.
      if (linked && p.verifyFirst === true && (await holds(ctx, 'contacts', linked, properties, log))) {
        return { links: [{ entityType: 'Customer', entityId: String(p.customerId), externalId: linked }], exchanges: log, summary: { hubspotContactId: linked, unchanged: true } };
      }
      if (linked) {
        try {
          const updated = await call(ctx, 'PATCH', `/crm/v3/objects/contacts/${encodeURIComponent(linked)}`, { properties }, log);
          contact = { id: String(updated.id ?? linked), new: false };
        } catch (err) {
          // Deleted in HubSpot since: the upsert below finds or makes it again.
          if (!(err instanceof ProviderError && err.httpStatus === 404)) throw err;
        }
      }
      if (!contact) {
        const body = { inputs: [{ idProperty: 'email', id: properties.email, properties }] };
        const res = (await call(ctx, 'POST', '/crm/v3/objects/contacts/batch/upsert', body, log)) as { results?: Array<{ id: string; new?: boolean }> };
        contact = res.results?.[0];
      }
      if (!contact) throw new ProviderError('server', 'HubSpot answered without a result', true, 200, null, log);
      return {
        // The contact's mapped properties as written: a later webhook naming one property
        // (propertyChange) is combined with the others (a name is firstname and lastname).
        links: [{ entityType: 'Customer', entityId: String(p.customerId), externalId: contact.id, remoteData: { email: properties.email, firstname: properties.firstname, lastname: properties.lastname, phone: properties.phone || null } }],
        exchanges: log,
        summary: { hubspotContactId: contact.id, created: contact.new ?? null },
      };
    },

    async 'contract.upsert'(p, _key, ctx) {
      const log: HttpExchange[] = [];
      const contactId = await ctx.refs('Customer', String(p.customerId));
      const properties: Record<string, string> = {
        dealname: String(p.title),
        pipeline: 'default',
        dealstage: String(p.dealstage ?? 'appointmentscheduled'),
        [DEAL_ID_PROPERTY]: String(p.contractId),
      };
      if (p.amount) properties.amount = String(p.amount);
      if (p.endDate) properties.closedate = new Date(String(p.endDate)).toISOString();
      const linkedDeal = p.verifyFirst === true ? await ctx.refs('Contract', String(p.contractId)) : null;
      if (linkedDeal && (await holds(ctx, 'deals', linkedDeal, properties, log))) {
        return { links: [{ entityType: 'Contract', entityId: String(p.contractId), externalId: linkedDeal }], exchanges: log, summary: { hubspotDealId: linkedDeal, unchanged: true } };
      }
      const body = { inputs: [{ idProperty: DEAL_ID_PROPERTY, id: String(p.contractId), properties }] };
      const res = (await call(ctx, 'POST', '/crm/v3/objects/deals/batch/upsert', body, log)) as { results?: Array<{ id: string }> };
      const deal = res.results?.[0];
      if (!deal) throw new ProviderError('server', 'HubSpot answered without a result', true, 200, null, log);
      if (contactId) {
        await call(
          ctx,
          'PUT',
          `/crm/v4/objects/deals/${encodeURIComponent(deal.id)}/associations/contacts/${encodeURIComponent(contactId)}`,
          [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }],
          log,
        );
      }
      return { links: [{ entityType: 'Contract', entityId: String(p.contractId), externalId: deal.id }], exchanges: log, summary: { hubspotDealId: deal.id } };
    },
  },
};
