import { Provider } from '../../domain/integration/integration.entity.js';
import { ProviderError, type CallContext, type Connector, type HttpExchange } from '../connector.js';
import { EXTERNAL_ID_FIELD, readByExternalId, SalesforceError, upsertByExternalId } from './api.js';

/** Contract status to the Opportunity's standard sales stage (the inbound map reads it back). */
export const STAGE_OF_STATUS: Record<string, string> = {
  DRAFT: 'Prospecting',
  ACTIVE: 'Closed Won',
  SUSPENDED: 'Negotiation/Review',
  TERMINATED: 'Closed Lost',
  EXPIRED: 'Closed Lost',
};

const today = () => new Date().toISOString().slice(0, 10);

/**
 * Upsert by the Switchboard id, and the Salesforce id of the record: from the answer (201, or 200
 * in recent API versions); after a 204 (an update, in older versions) the link the gateway already
 * has, or else the record read back by its external id.
 */
async function upsert(
  ctx: CallContext,
  sObject: 'Account' | 'Opportunity',
  entity: 'Customer' | 'Contract',
  canonicalId: string,
  record: Record<string, unknown>,
  log: HttpExchange[],
): Promise<{ id: string; created: boolean }> {
  const result = await upsertByExternalId(ctx, sObject, EXTERNAL_ID_FIELD, canonicalId, record, log);
  if (result.id) return { id: result.id, created: result.created };
  const known = await ctx.refs(entity, canonicalId);
  if (known) return { id: known, created: false };
  const found = await readByExternalId(ctx, sObject, EXTERNAL_ID_FIELD, canonicalId, ['Id'], log);
  if (typeof found?.Id !== 'string') throw new ProviderError('server', `Salesforce updated the ${sObject} but then found none with this ${EXTERNAL_ID_FIELD}`, true, 404, null, log);
  return { id: found.Id, created: false };
}

/**
 * For a repair (see ReconcileContext.applyOwned): the record's id when it already holds these
 * values, so nothing is written back that Salesforce holds; null otherwise.
 */
async function holds(ctx: CallContext, sObject: 'Account' | 'Opportunity', canonicalId: string, values: Record<string, unknown>, log: HttpExchange[]): Promise<string | null> {
  const found = await readByExternalId(ctx, sObject, EXTERNAL_ID_FIELD, canonicalId, ['Id', ...Object.keys(values)], log).catch((err: unknown) => {
    // Several records with this external id (300): let the upsert report it.
    if (err instanceof SalesforceError) return null;
    throw err;
  });
  if (typeof found?.Id !== 'string') return null;
  return Object.entries(values).every(([k, v]) => (found[k] ?? null) === (v ?? null)) ? found.Id : null;
}

/**
 * Salesforce: customers as Accounts and contracts as Opportunities, both upserted by the
 * `Switchboard_Id__c` external id field (PATCH .../sobjects/<Object>/Switchboard_Id__c/<canonical
 * id>): a repeated attempt updates the same record, which makes retries safe without an
 * idempotency key (Salesforce has none).
 */
export const salesforceConnector: Connector = {
  provider: Provider.SALESFORCE,
  operations: {
    async 'customer.upsert'(p, _key, ctx) {
      const log: HttpExchange[] = [];
      const customerId = String(p.customerId);
      if (p.verifyFirst === true) {
        const held = await holds(ctx, 'Account', customerId, { Name: String(p.name), Phone: p.phone ?? null }, log);
        if (held) return { links: [{ entityType: 'Customer', entityId: customerId, externalId: held }], exchanges: log, summary: { salesforceAccountId: held, unchanged: true } };
      }
      const account = await upsert(ctx, 'Account', 'Customer', customerId, { Name: String(p.name), Phone: p.phone ?? null }, log);
      return {
        links: [{ entityType: 'Customer', entityId: customerId, externalId: account.id }],
        exchanges: log,
        summary: { salesforceAccountId: account.id, created: account.created },
      };
    },

    /**
     * The Opportunity, linked to the customer's Account when the customer is linked here. A
     * contract without an end date has no close date to send; Salesforce requires one only to
     * create an Opportunity, so today's date is sent only when Salesforce says the create needs
     * it, and an update never moves a close date set in Salesforce.
     */
    async 'contract.upsert'(p, _key, ctx) {
      const log: HttpExchange[] = [];
      const contractId = String(p.contractId);
      const accountId = await ctx.refs('Customer', String(p.customerId));
      const record: Record<string, unknown> = {
        Name: String(p.title),
        StageName: STAGE_OF_STATUS[String(p.status)] ?? STAGE_OF_STATUS.DRAFT,
        Amount: p.amount === null || p.amount === undefined ? null : Number(p.amount),
      };
      if (p.endDate) record.CloseDate = String(p.endDate).slice(0, 10);
      if (accountId) record.AccountId = accountId;
      if (p.verifyFirst === true) {
        const held = await holds(ctx, 'Opportunity', contractId, { Name: record.Name, StageName: record.StageName, Amount: record.Amount }, log);
        if (held) return { links: [{ entityType: 'Contract', entityId: contractId, externalId: held }], exchanges: log, summary: { salesforceOpportunityId: held, unchanged: true } };
      }
      let opportunity;
      try {
        opportunity = await upsert(ctx, 'Opportunity', 'Contract', contractId, record, log);
      } catch (err) {
        const closeDateMissing = err instanceof SalesforceError && err.errorCode === 'REQUIRED_FIELD_MISSING' && err.fields.includes('CloseDate');
        if (record.CloseDate !== undefined || !closeDateMissing) throw err;
        opportunity = await upsert(ctx, 'Opportunity', 'Contract', contractId, { ...record, CloseDate: today() }, log);
      }
      return {
        links: [{ entityType: 'Contract', entityId: contractId, externalId: opportunity.id }],
        exchanges: log,
        summary: { salesforceOpportunityId: opportunity.id, created: opportunity.created, salesforceAccountId: accountId },
      };
    },
  },
};
