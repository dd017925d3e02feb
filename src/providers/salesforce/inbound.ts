import { Contract, ContractStatus } from '../../domain/contract/contract.entity.js';
import { Customer } from '../../domain/customer/customer.entity.js';
import { isUuid, newId } from '../../domain/shared/ids.js';
import { toMinorUnits } from '../../domain/shared/money.js';
import type { HandlerResult, InboundHandler } from '../../webhooks/inbound-handler.js';
import { nonEmpty, resolveCustomer, updateCustomer, type CustomerFacts, type ReconcileContext } from '../../webhooks/reconcile.js';
import { EXTERNAL_ID_FIELD } from './api.js';
import { STAGE_OF_STATUS } from './connector.js';
import type { StoredNotification } from './events.js';

/** Standard stages that say more than "open": the rest of the open stages are DRAFT. */
const STATUS_OF_STAGE: Record<string, ContractStatus> = {
  'Closed Won': ContractStatus.ACTIVE,
  'Closed Lost': ContractStatus.TERMINATED,
  'Negotiation/Review': ContractStatus.SUSPENDED,
};

/**
 * An Opportunity's stage as a contract status. A stage that is what the gateway would send for
 * the current status keeps it (EXPIRED and TERMINATED both go out as Closed Lost: reading it back
 * must not turn one into the other). Custom stages fall back on IsClosed and IsWon when the
 * outbound message includes them.
 */
function statusOf(fields: Record<string, string | null>, current: ContractStatus | null): ContractStatus | undefined {
  const stage = fields.StageName;
  if (!stage) return undefined;
  if (current && STAGE_OF_STATUS[current] === stage) return current;
  if (STATUS_OF_STAGE[stage]) return STATUS_OF_STAGE[stage];
  if (fields.IsClosed === 'true') return fields.IsWon === 'true' ? ContractStatus.ACTIVE : ContractStatus.TERMINATED;
  return ContractStatus.DRAFT;
}

/** Only the fields the outbound message (or a polled record) carries are asserted: an omitted field says nothing. */
export function accountFacts(fields: Record<string, string | null>): CustomerFacts {
  const facts: CustomerFacts = {};
  if ('Name' in fields) facts.name = fields.Name;
  if ('Phone' in fields) facts.phone = fields.Phone;
  return facts;
}

/** Account notifications: identity (link, then Switchboard_Id__c, then email where allowed), then name and phone. */
async function accountNotification(ctx: ReconcileContext, n: StoredNotification): Promise<HandlerResult> {
  const accountId = nonEmpty(n.fields.Id);
  if (!accountId) return { status: 'IGNORED', note: 'the Account notification carries no Id field' };
  const facts = accountFacts(n.fields);
  const { customer, ref, created } = await resolveCustomer(ctx, accountId, facts, nonEmpty(n.fields[EXTERNAL_ID_FIELD]));
  if (!created) await updateCustomer(ctx, customer, ref, facts);
  return { status: 'PROCESSED' };
}

/** The contract fields an Opportunity notification asserts (key: the ownership name). */
function opportunityFacts(ctx: ReconcileContext, fields: Record<string, string | null>, contract: Contract | null, currency: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (nonEmpty(fields.Name)) out['contract.title'] = nonEmpty(fields.Name)!.slice(0, 500);
  const status = statusOf(fields, contract?.status ?? null);
  if (status) out['contract.status'] = status;
  if ('Amount' in fields) {
    if (fields.Amount === null) out['contract.value'] = null;
    else if (currency) {
      try {
        out['contract.value'] = String(toMinorUnits(String(fields.Amount), currency, 'Amount'));
      } catch {
        ctx.notes.push(`Amount ${String(fields.Amount)} is not a valid ${currency} amount`);
      }
    } else ctx.notes.push('Amount not applied: the contract has no currency and the message no CurrencyIsoCode');
  }
  const close = nonEmpty(fields.CloseDate);
  if (close && /^\d{4}-\d{2}-\d{2}/.test(close)) {
    // A close date is a date: the contract's end time on that same day is kept as it is.
    const kept = contract?.endDate && contract.endDate.toISOString().slice(0, 10) === close.slice(0, 10);
    out['contract.endDate'] = kept ? contract!.endDate!.toISOString() : new Date(`${close.slice(0, 10)}T00:00:00.000Z`).toISOString();
  }
  return out;
}

/**
 * Opportunity notifications: the contract linked to the Opportunity, or named by its
 * Switchboard_Id__c (set by contract.upsert), or else a new contract for the customer linked to
 * its Account. Title, status, value and end date apply under field ownership (the gateway owns
 * them by default) and per-field order.
 */
async function opportunityNotification(ctx: ReconcileContext, n: StoredNotification): Promise<HandlerResult> {
  const opportunityId = nonEmpty(n.fields.Id);
  if (!opportunityId) return { status: 'IGNORED', note: 'the Opportunity notification carries no Id field' };
  await ctx.lockObject('Contract', opportunityId);
  let ref = await ctx.findRef('Contract', opportunityId);
  let contract = ref ? await ctx.tx.findOne(Contract, { where: { id: ref.entityId }, lock: { mode: 'pessimistic_write' } }) : null;
  if (!contract) {
    const ours = nonEmpty(n.fields[EXTERNAL_ID_FIELD]);
    contract = ours && isUuid(ours) ? await ctx.tx.findOne(Contract, { where: { id: ours }, lock: { mode: 'pessimistic_write' } }) : null;
  }
  if (!contract) {
    const accountId = nonEmpty(n.fields.AccountId);
    const accountRef = accountId ? await ctx.findRef('Customer', accountId) : null;
    if (!accountRef || accountRef.deletedAt) return { status: 'IGNORED', note: `opportunity ${opportunityId} has no Account linked to a canonical customer` };
    const customer = await ctx.tx.findOne(Customer, { where: { id: accountRef.entityId } });
    if (!customer) return { status: 'IGNORED', note: 'the linked customer no longer exists' };
    const currency = nonEmpty(n.fields.CurrencyIsoCode)?.toUpperCase() ?? customer.currency;
    const facts = opportunityFacts(ctx, n.fields, null, currency);
    const hasValue = typeof facts['contract.value'] === 'string' && currency !== null;
    contract = await ctx.tx.save(
      ctx.tx.create(Contract, {
        id: newId(),
        customerId: customer.id,
        title: String(facts['contract.title'] ?? `Salesforce opportunity ${opportunityId}`),
        status: (facts['contract.status'] as ContractStatus) ?? ContractStatus.DRAFT,
        startDate: null,
        endDate: facts['contract.endDate'] ? new Date(String(facts['contract.endDate'])) : null,
        valueMinor: hasValue ? String(facts['contract.value']) : null,
        valueCurrency: hasValue ? currency : null,
        version: 1,
      }),
    );
    ref = await ctx.link('Contract', contract.id, opportunityId, null);
    for (const f of ['contract.title', 'contract.status', 'contract.value', 'contract.endDate']) ref.fieldClock[f] = ctx.occurredAtMs;
    await ctx.tx.save(ref);
    ctx.published.contracts.push(contract);
    ctx.notes.push(`contract ${contract.id} created from opportunity ${opportunityId}`);
    return { status: 'PROCESSED' };
  }
  ref ??= await ctx.link('Contract', contract.id, opportunityId, null);
  const currency = contract.valueCurrency ?? nonEmpty(n.fields.CurrencyIsoCode)?.toUpperCase() ?? null;
  const current = {
    'contract.title': contract.title,
    'contract.status': contract.status,
    'contract.value': contract.valueMinor,
    'contract.endDate': contract.endDate?.toISOString() ?? null,
  };
  await ctx.recentWrites(ref!);
  const changes = ctx.applyOwned('Contract', current, opportunityFacts(ctx, n.fields, contract, currency), ref.fieldClock, null, ref, contract.fieldOrigins);
  await ctx.tx.save(ref);
  if (Object.keys(changes).length === 0) return { status: 'PROCESSED' };
  if (changes['contract.title'] !== undefined) contract.title = String(changes['contract.title']);
  if (changes['contract.status'] !== undefined) contract.status = changes['contract.status'] as ContractStatus;
  if (changes['contract.value'] !== undefined) {
    contract.valueMinor = changes['contract.value'] === null ? null : String(changes['contract.value']);
    contract.valueCurrency = changes['contract.value'] === null ? null : currency;
  }
  if (changes['contract.endDate'] !== undefined) contract.endDate = new Date(String(changes['contract.endDate']));
  contract.version += 1;
  ctx.published.contracts.push(await ctx.tx.save(contract));
  ctx.notes.push(`contract ${contract.id}: ${Object.keys(changes).join(', ')} changed`);
  return { status: 'PROCESSED' };
}

/** Outbound Message notifications: Accounts to customers, Opportunities to contracts. */
export const salesforceHandler: InboundHandler = {
  async handle(ctx, payload) {
    const n = payload as StoredNotification;
    if (n.sObjectType === 'Account') return accountNotification(ctx, n);
    if (n.sObjectType === 'Opportunity') return opportunityNotification(ctx, n);
    return { status: 'IGNORED', note: `Salesforce ${n.sObjectType} notifications change nothing in the canonical model` };
  },
};
