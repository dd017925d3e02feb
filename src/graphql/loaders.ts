import DataLoader from 'dataloader';
import type { ApiKey } from '../domain/auth/api-key.entity.js';
import type { IntegrationJob } from '../domain/job/integration-job.entity.js';
import type { IntegrationLog } from '../domain/job/integration-log.entity.js';
import type { Contract } from '../domain/contract/contract.entity.js';
import type { Customer } from '../domain/customer/customer.entity.js';
import type { CanonicalEntityType, ExternalRef } from '../domain/external-ref/external-ref.entity.js';
import type { Integration } from '../domain/integration/integration.entity.js';
import type { Invoice, InvoiceLineItem, InvoiceStatus } from '../domain/invoice/invoice.entity.js';
import type { Connection, PageArgs } from '../domain/shared/pagination.js';
import type { Services } from '../services.js';

function byId<T extends { id: string }>(load: (ids: readonly string[]) => Promise<T[]>) {
  return new DataLoader<string, T | null>(async (ids) => {
    const rows = new Map((await load(ids)).map((r) => [r.id, r]));
    return ids.map((id) => rows.get(id) ?? null);
  });
}

function groupBy<T, K>(rows: T[], keys: readonly K[], keyOf: (row: T) => K): T[][] {
  const groups = new Map<K, T[]>(keys.map((k) => [k, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((k) => groups.get(k) ?? []);
}

/**
 * A connection loader per distinct argument set: `customer.invoices(first: 5)` on a page of
 * customers is one statement, whatever the page size.
 */
function connectionLoaders<Args extends PageArgs, T>(
  load: (parentIds: readonly string[], args: Args) => Promise<Map<string, Connection<T>>>,
) {
  const byArgs = new Map<string, DataLoader<string, Connection<T>>>();
  return (parentId: string, args: Args): Promise<Connection<T>> => {
    const key = JSON.stringify(args);
    let loader = byArgs.get(key);
    if (!loader) {
      loader = new DataLoader(async (ids) => {
        const pages = await load(ids, args);
        return ids.map((id) => pages.get(id)!);
      });
      byArgs.set(key, loader);
    }
    return loader.load(parentId);
  };
}

/** One set per request, so nothing is cached across callers. */
export function createLoaders(services: Services) {
  const refs = (type: CanonicalEntityType) =>
    new DataLoader<string, ExternalRef[]>(async (ids) =>
      groupBy(await services.externalRefs.forEntities(type, ids), ids, (r) => r.entityId),
    );
  return {
    customer: byId<Customer>((ids) => services.customers.findByIds(ids)),
    contract: byId<Contract>((ids) => services.contracts.findByIds(ids)),
    invoice: byId<Invoice>((ids) => services.invoices.findByIds(ids)),
    integration: byId<Integration>((ids) => services.integrations.findByIds(ids)),
    apiKey: byId<ApiKey>((ids) => services.apiKeys.findByIds(ids)),
    job: byId<IntegrationJob>((ids) => services.jobs.findByIds(ids)),
    jobLogs: new DataLoader<string, IntegrationLog[]>(async (ids) => groupBy(await services.jobs.logsFor(ids), ids, (l) => l.jobId!)),
    lineItems: new DataLoader<string, InvoiceLineItem[]>(async (ids) =>
      groupBy(await services.invoices.lineItemsFor(ids), ids, (l) => l.invoiceId),
    ),
    externalRefs: {
      Customer: refs('Customer'),
      Contract: refs('Contract'),
      Invoice: refs('Invoice'),
    } satisfies Record<CanonicalEntityType, DataLoader<string, ExternalRef[]>>,
    customerInvoices: connectionLoaders<PageArgs & { status?: InvoiceStatus | null }, Invoice>((ids, args) =>
      services.invoices.pageByCustomers(ids, args),
    ),
    customerContracts: connectionLoaders<PageArgs, Contract>((ids, args) => services.contracts.pageByCustomers(ids, args)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
