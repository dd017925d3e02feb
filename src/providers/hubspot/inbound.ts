import { ExternalRef } from '../../domain/external-ref/external-ref.entity.js';
import type { FieldOrigins } from '../../domain/shared/field-origins.js';
import { ProviderError, type CallContext } from '../connector.js';
import { DEAL_ID_PROPERTY } from './connector.js';
import { classifyStatus, parseRetryAfter, send } from '../http.js';
import { Contract, ContractStatus } from '../../domain/contract/contract.entity.js';
import { Customer } from '../../domain/customer/customer.entity.js';
import type { Integration } from '../../domain/integration/integration.entity.js';
import { effectiveSettings } from '../../domain/integration/integration-settings.js';
import { newId } from '../../domain/shared/ids.js';
import { fromMinorUnits, toMinorUnits } from '../../domain/shared/money.js';
import type { Services } from '../../services.js';
import type { HandlerResult, InboundHandler } from '../../webhooks/inbound-handler.js';
import { nonEmpty, resolveCustomer, updateCustomer, type ReconcileContext } from '../../webhooks/reconcile.js';

type Json = Record<string, any>;

export const CONTACT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'switchboard_id'];
export const DEAL_PROPERTIES = ['dealname', 'dealstage', 'amount', 'closedate', 'deal_currency_code', DEAL_ID_PROPERTY];

/** HubSpot's default pipeline stages, back to contract status (the outbound map, inverted). */
const STAGE_STATUS: Record<string, ContractStatus> = {
  appointmentscheduled: ContractStatus.DRAFT,
  qualifiedtobuy: ContractStatus.DRAFT,
  presentationscheduled: ContractStatus.DRAFT,
  decisionmakerboughtin: ContractStatus.DRAFT,
  contractsent: ContractStatus.SUSPENDED,
  closedwon: ContractStatus.ACTIVE,
  closedlost: ContractStatus.TERMINATED,
};

/** GET one CRM object with the integration's token; null when HubSpot no longer has it. */
async function fetchObject(services: Services, integration: Integration, kind: 'contacts' | 'deals', id: string, query: string): Promise<Json | null> {
  const credentials = services.integrations.credentialsOf(integration);
  if (!credentials) throw new ProviderError('auth', 'the HubSpot integration has no access token to read the changed record', false);
  const settings = effectiveSettings(integration.settings, 10);
  const call = { baseUrl: integration.baseUrl, credentials, timeoutMs: settings.timeoutMs, refs: async () => null, outbound: services.outbound };
  return (await hubspotRequest(call, 'GET', `/crm/v3/objects/${kind}/${encodeURIComponent(id)}?${query}`)) as Json | null;
}

/**
 * One request to HubSpot's API with the integration's token (JSON both ways); null for a 404.
 * Failures are classified as every HubSpot call is (429 and 5xx retryable, with Retry-After).
 */
export async function hubspotRequest(call: CallContext, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await send(call, {
    method,
    path,
    headers: { authorization: `Bearer ${String(call.credentials.accessToken)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 404) return null;
  if (res.status >= 200 && res.status < 300) return res.body;
  const error = (res.body ?? {}) as { message?: string; category?: string };
  throw classifyStatus(res.status, `HubSpot ${res.status} ${error.category ?? 'error'}: ${error.message ?? 'no message'}`, parseRetryAfter(res.headers.get('retry-after')), [res.exchange]);
}

export function contactFacts(props: Json) {
  const name = [nonEmpty(props.firstname), nonEmpty(props.lastname)].filter(Boolean).join(' ');
  return { name: name || null, email: props.email ?? null, phone: props.phone ?? null };
}

interface Prefetched {
  contact?: Json | null;
  deal?: Json | null;
}

async function contactEvent(ctx: ReconcileContext, e: Json, remote: Prefetched): Promise<HandlerResult> {
  const id = String(e.objectId);
  const type = String(e.subscriptionType);
  if (type === 'contact.deletion' || type === 'contact.privacyDeletion') {
    await ctx.lockObject('Customer', id);
    return (await ctx.markDeleted('Customer', id)) ? { status: 'PROCESSED' } : { status: 'IGNORED', note: `contact ${id} is not linked` };
  }
  if (type !== 'contact.creation' && type !== 'contact.propertyChange') return { status: 'IGNORED', note: `${type} changes nothing in the canonical model` };
  const property = type === 'contact.propertyChange' ? String(e.propertyName) : null;
  if (property && !['firstname', 'lastname', 'email', 'phone'].includes(property)) {
    return { status: 'IGNORED', note: `contact property ${property} is not mapped` };
  }
  await ctx.lockObject('Customer', id);
  const ref = await ctx.findRef('Customer', id);
  if (!ref || type === 'contact.creation') {
    if (remote.contact === undefined) throw new Error('the contact was not read from HubSpot before processing; retrying');
    if (remote.contact === null) return { status: 'IGNORED', note: `contact ${id} no longer exists at HubSpot` };
    const props = (remote.contact.properties ?? {}) as Json;
    const { customer, ref: linked, created } = await resolveCustomer(ctx, id, contactFacts(props), nonEmpty(props.switchboard_id));
    const remoteData = Object.fromEntries(CONTACT_PROPERTIES.map((p) => [p, props[p] ?? null]));
    const saved = await ctx.link('Customer', customer.id, id, remoteData);
    for (const p of CONTACT_PROPERTIES) saved.fieldClock[`hubspot.${p}`] = Math.max(saved.fieldClock[`hubspot.${p}`] ?? 0, ctx.occurredAtMs);
    if (!created) await updateCustomer(ctx, customer, saved, contactFacts(props), false);
    else await ctx.tx.save(saved);
    return { status: 'PROCESSED' };
  }
  // A property change: order per HubSpot property, then the canonical fields it feeds.
  const key = `hubspot.${property}`;
  if ((ref.fieldClock[key] ?? -Infinity) > ctx.occurredAtMs) {
    ctx.notes.push(`${property}: a newer change was already applied`);
    return { status: 'PROCESSED' };
  }
  const customer = await ctx.tx.findOne(Customer, { where: { id: ref.entityId }, lock: { mode: 'pessimistic_write' } });
  if (!customer) return { status: 'IGNORED', note: 'the linked customer no longer exists' };
  // The field it feeds took a value from the API (or elsewhere) after this change: the change is
  // older and does not undo it (ADR 0017; the other paths weigh this in applyOwned).
  const origin = customer.fieldOrigins?.[property === 'email' ? 'email' : property === 'phone' ? 'phone' : 'name'];
  if (origin && origin.integrationId !== ctx.integration.id && Date.parse(origin.at) > ctx.occurredAtMs) {
    ctx.notes.push(`${property}: a newer ${origin.source} change was already applied`);
    return { status: 'PROCESSED' };
  }
  const props = { ...(ref.remoteData ?? {}), [property!]: e.propertyValue ?? null } as Json;
  ref.remoteData = props;
  const facts = contactFacts(props);
  const asserted = property === 'email' ? { email: facts.email } : property === 'phone' ? { phone: facts.phone } : { name: facts.name };
  await updateCustomer(ctx, customer, ref, asserted, false);
  // The property's clock moves for a change at HubSpot, not for the gateway's own write reported
  // back (an echo): a person's edit made just before that write, reported after it (HubSpot's
  // events come in any order), must still apply, and its repair put it back (found by the soak).
  const fed = property === 'email' ? 'customer.email' : property === 'phone' ? 'customer.phone' : 'customer.name';
  if (!ctx.echoedFields.has(fed)) {
    ref.fieldClock[key] = ctx.occurredAtMs;
    await ctx.tx.update(ExternalRef, { id: ref.id }, { fieldClock: ref.fieldClock });
  }
  return { status: 'PROCESSED' };
}

/** Field origins of a record made from these owned fields now. */
function originsOf(ctx: ReconcileContext, ownedFields: string[]): FieldOrigins {
  const record = { fieldOrigins: {} as FieldOrigins };
  ctx.markOrigins(record, ['contract.title', 'contract.status', ...ownedFields]);
  return record.fieldOrigins;
}

function dealFacts(ctx: ReconcileContext, props: Json, currencyFallback: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (nonEmpty(props.dealname)) out['contract.title'] = nonEmpty(props.dealname);
  if (props.dealstage && STAGE_STATUS[props.dealstage]) out['contract.status'] = STAGE_STATUS[props.dealstage];
  const currency = nonEmpty(props.deal_currency_code)?.toUpperCase() ?? currencyFallback;
  if (nonEmpty(props.amount) && currency) {
    try {
      out['contract.value'] = String(toMinorUnits(String(props.amount), currency, 'amount'));
    } catch {
      ctx.notes.push(`deal amount ${String(props.amount)} is not a valid ${currency} amount`);
    }
  }
  if (nonEmpty(props.closedate)) out['contract.endDate'] = new Date(props.closedate).toISOString();
  return out;
}

async function dealEvent(ctx: ReconcileContext, e: Json, remote: Prefetched): Promise<HandlerResult> {
  const id = String(e.objectId);
  const type = String(e.subscriptionType);
  await ctx.lockObject('Contract', id);
  if (type === 'deal.deletion' || type === 'deal.privacyDeletion') {
    return (await ctx.markDeleted('Contract', id)) ? { status: 'PROCESSED' } : { status: 'IGNORED', note: `deal ${id} is not linked` };
  }
  if (type !== 'deal.creation' && type !== 'deal.propertyChange') return { status: 'IGNORED', note: `${type} changes nothing in the canonical model` };
  let ref = await ctx.findRef('Contract', id);
  let contract = ref ? await ctx.tx.findOne(Contract, { where: { id: ref.entityId }, lock: { mode: 'pessimistic_write' } }) : null;
  let props: Json;
  if (type === 'deal.propertyChange' && contract) {
    props = { [String(e.propertyName)]: e.propertyValue ?? null };
  } else {
    if (remote.deal === undefined) throw new Error('the deal was not read from HubSpot before processing; retrying');
    if (remote.deal === null) return { status: 'IGNORED', note: `deal ${id} no longer exists at HubSpot` };
    props = (remote.deal.properties ?? {}) as Json;
  }
  if (!contract) {
    const ours = nonEmpty(props[DEAL_ID_PROPERTY]);
    contract = ours && /^[0-9a-f-]{36}$/i.test(ours) ? await ctx.tx.findOne(Contract, { where: { id: ours }, lock: { mode: 'pessimistic_write' } }) : null;
    if (!contract) {
      // A deal made in HubSpot: a contract for the canonical customer of its first linked contact.
      const contactIds: string[] = (remote.deal?.associations?.contacts?.results ?? []).map((r: Json) => String(r.id));
      let customerId: string | null = null;
      for (const contactId of contactIds) {
        const contactRef = await ctx.findRef('Customer', contactId);
        if (contactRef && !contactRef.deletedAt) {
          customerId = contactRef.entityId;
          break;
        }
      }
      if (!customerId) return { status: 'IGNORED', note: `deal ${id} has no contact linked to a canonical customer` };
      const facts = dealFacts(ctx, props, null);
      const currency = nonEmpty(props.deal_currency_code)?.toUpperCase() ?? null;
      contract = await ctx.tx.save(
        ctx.tx.create(Contract, {
          id: newId(),
          customerId,
          title: String(facts['contract.title'] ?? `HubSpot deal ${id}`).slice(0, 500),
          status: (facts['contract.status'] as ContractStatus) ?? ContractStatus.DRAFT,
          startDate: null,
          endDate: facts['contract.endDate'] ? new Date(String(facts['contract.endDate'])) : null,
          valueMinor: facts['contract.value'] !== undefined && currency ? String(facts['contract.value']) : null,
          valueCurrency: facts['contract.value'] !== undefined && currency ? currency : null,
          version: 1,
          fieldOrigins: originsOf(ctx, Object.keys(facts)),
        }),
      );
      ref = await ctx.link('Contract', contract.id, id, { dealstage: props.dealstage ?? null });
      for (const f of ['contract.title', 'contract.status', 'contract.value', 'contract.endDate']) ref.fieldClock[f] = ctx.occurredAtMs;
      await ctx.tx.save(ref);
      ctx.published.contracts.push(contract);
      ctx.notes.push(`contract ${contract.id} created from deal ${id}`);
      return { status: 'PROCESSED' };
    }
    ref = await ctx.link('Contract', contract.id, id, null);
  }
  const current = {
    'contract.title': contract.title,
    'contract.status': contract.status,
    'contract.value': contract.valueMinor,
    'contract.endDate': contract.endDate?.toISOString() ?? null,
  };
  await ctx.recentWrites(ref!);
  const changes = ctx.applyOwned('Contract', current, dealFacts(ctx, props, contract.valueCurrency), ref!.fieldClock, null, ref, contract.fieldOrigins);
  await ctx.tx.save(ref!);
  if (Object.keys(changes).length === 0) return { status: 'PROCESSED' };
  if (changes['contract.title'] !== undefined) contract.title = String(changes['contract.title']);
  if (changes['contract.status'] !== undefined) contract.status = changes['contract.status'] as ContractStatus;
  if (changes['contract.value'] !== undefined && contract.valueCurrency) contract.valueMinor = String(changes['contract.value']);
  if (changes['contract.endDate'] !== undefined) contract.endDate = new Date(String(changes['contract.endDate']));
  ctx.markOrigins(contract, Object.keys(changes));
  contract.version += 1;
  ctx.published.contracts.push(await ctx.tx.save(contract));
  ctx.notes.push(`contract ${contract.id}: ${Object.keys(changes).join(', ')} changed (value ${contract.valueMinor && contract.valueCurrency ? fromMinorUnits(contract.valueMinor, contract.valueCurrency) : 'none'})`);
  return { status: 'PROCESSED' };
}

/** A deal read from HubSpot (a sync run, rehydrate), applied as its creation event would be: the whole record, ordered by its time. */
export function applyDealSnapshot(ctx: ReconcileContext, deal: Json): Promise<HandlerResult> {
  return dealEvent(ctx, { subscriptionType: 'deal.creation', objectId: deal.id }, { deal });
}

/** HubSpot webhook events: contacts to customers (CRM owns name and phone), deals to contracts. */
export const hubspotHandler: InboundHandler = {
  async prefetch(payload, integration, services) {
    const e = payload as Json;
    const type = String(e.subscriptionType);
    const id = String(e.objectId);
    if (type === 'contact.creation' || type === 'contact.propertyChange') {
      if (type === 'contact.propertyChange' && (await services.externalRefs.find(integration.id, 'Customer', id))) return {};
      return { contact: await fetchObject(services, integration, 'contacts', id, `properties=${CONTACT_PROPERTIES.join(',')}`) } satisfies Prefetched;
    }
    if (type === 'deal.creation' || type === 'deal.propertyChange') {
      if (type === 'deal.propertyChange' && (await services.externalRefs.find(integration.id, 'Contract', id))) return {};
      return { deal: await fetchObject(services, integration, 'deals', id, `properties=${DEAL_PROPERTIES.join(',')}&associations=contacts`) } satisfies Prefetched;
    }
    return {};
  },
  async handle(ctx, payload, remote) {
    const e = payload as Json;
    const type = String(e.subscriptionType);
    // HubSpot reports changes made through the API too, marked with the app that made them.
    ctx.reportsOwnWrite = e.changeSource === 'INTEGRATION' && e.sourceId != null && e.appId != null && String(e.sourceId) === String(e.appId);
    // A change marked as made by someone else (a user, `userId:…`, or another app) is no echo,
    // whatever value it sets.
    ctx.reportsForeignWrite = e.changeSource != null && e.sourceId != null && e.appId != null && String(e.sourceId) !== String(e.appId);
    if (type.startsWith('contact.')) return contactEvent(ctx, e, (remote ?? {}) as Prefetched);
    if (type.startsWith('deal.')) return dealEvent(ctx, e, (remote ?? {}) as Prefetched);
    return { status: 'IGNORED', note: `HubSpot ${type} events change nothing in the canonical model` };
  },
};
