import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateContractDocument, CreateCustomerDocument, CustomersWithRelationsDocument, InvoicePageDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';

let t: TestGateway;

/**
 * The statements one run sends through the gateway's data source, as its logger sees them (the
 * same hook that feeds switchboard_db_statements_total, prepared statements included). Read in
 * process rather than by scraping /metrics: a scrape runs statements of its own (the webhook lag
 * gauge), and whether those land inside a measurement depended on timing.
 */
async function statementsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const logger = t.gateway.db.logger;
  const original = logger.logQuery.bind(logger);
  const seen: string[] = [];
  logger.logQuery = (query, parameters, runner) => {
    seen.push(query.replace(/\s+/g, ' ').slice(0, 120));
    return original(query, parameters, runner);
  };
  try {
    await run();
  } finally {
    logger.logQuery = original;
  }
  return seen;
}

/**
 * Statements one run costs: the fewest of three runs, since a background statement (an event
 * published to other processes) can land inside one of them. An N+1 costs a hundred more on
 * every run, so the minimum still shows it.
 */
async function statementsFor(run: () => Promise<unknown>): Promise<string[]> {
  let fewest: string[] | null = null;
  for (let i = 0; i < 3; i++) {
    const seen = await statementsDuring(run);
    if (!fewest || seen.length < fewest.length) fewest = seen;
  }
  return fewest!;
}

beforeAll(async () => {
  // An API process: no worker, whose scrape-time gauges would add their own statements.
  t = await startTestGateway({ ROLE: 'api' });
  // 120 customers, each with a contract and an invoice of three line items, loaded in bulk.
  const customers = await t.sql<{ id: string }>(
    `INSERT INTO customer (id, name, email) SELECT gen_random_uuid(), 'Bulk ' || i, 'bulk' || i || '@example.com'
     FROM generate_series(1, 120) i RETURNING id`,
  );
  for (const { id } of customers) {
    await t.sql(
      `WITH k AS (INSERT INTO contract (id, customer_id, title) VALUES (gen_random_uuid(), $1, 'Deal') RETURNING id),
            inv AS (INSERT INTO invoice (id, number, customer_id, contract_id, currency, subtotal_minor)
                    SELECT gen_random_uuid(), 'B-' || gen_random_uuid(), $1, k.id, 'USD', 600 FROM k RETURNING id)
       INSERT INTO invoice_line_item (id, invoice_id, position, description, quantity, unit_amount_minor, amount_minor)
       SELECT gen_random_uuid(), inv.id, p, 'line ' || p, 1, 200, 200 FROM inv, generate_series(0, 2) p`,
      [id],
    );
  }
  // Keep the API path warm so both measurements see the same code.
  await t.run(CreateCustomerDocument, { input: { name: 'Warm' } });
});
afterAll(async () => t?.stop());

describe('DataLoader batching', () => {
  it('a page of invoices with customer, contract and line items costs the same statements at 10 and 100 rows', async () => {
    let page10 = 0;
    let page100 = 0;
    const small = await statementsFor(async () => {
      const res = await t.run(InvoicePageDocument, { first: 10 });
      page10 = res.invoices.edges.length;
      expect(res.invoices.edges[0].node.lineItems).toHaveLength(3);
      expect(res.invoices.edges[0].node.customer.name).toMatch(/^Bulk/);
      expect(res.invoices.edges[0].node.contract?.title).toBe('Deal');
    });
    const large = await statementsFor(async () => {
      const res = await t.run(InvoicePageDocument, { first: 100 });
      page100 = res.invoices.edges.length;
    });
    expect([page10, page100]).toEqual([10, 100]);
    expect(large.length, large.join('\n')).toBe(small.length);
    // page, count, customers, contracts, line items; the key lookup too when the key cache is off
    expect(small.length, small.join('\n')).toBeLessThanOrEqual(6);
  });

  it('nested connections (customer.invoices, customer.contracts) are batched too', async () => {
    const small = await statementsFor(() => t.run(CustomersWithRelationsDocument, { first: 10, invoicesFirst: 5 }));
    const large = await statementsFor(() => t.run(CustomersWithRelationsDocument, { first: 100, invoicesFirst: 5 }));
    expect(large.length, large.join('\n')).toBe(small.length);
  });

  it('the counter itself moves with the work done (guards the guard)', async () => {
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Counter' } });
    const created = await statementsFor(() => t.run(CreateContractDocument, { input: { customerId: createCustomer.customer.id, title: 'x' } }));
    expect(created.length).toBeGreaterThan(2);
    // The exported counter is fed by the same hook: it moves by at least what a run sends.
    const counter = async () =>
      Number((await scrapeMetrics(t.url, t.adminKey)).split('\n').find((l) => l.startsWith('switchboard_db_statements_total '))!.split(' ')[1]);
    const before = await counter();
    const seen = await statementsDuring(() => t.run(CreateContractDocument, { input: { customerId: createCustomer.customer.id, title: 'y' } }));
    expect((await counter()) - before).toBeGreaterThanOrEqual(seen.length);
  });
});
