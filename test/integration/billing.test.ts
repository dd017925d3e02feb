import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContractsDocument,
  CreateContractDocument,
  CreateCustomerDocument,
  CreateInvoiceDocument,
  InvoiceDocument,
  InvoicePageDocument,
  UpdateContractDocument,
  UpdateInvoiceDocument,
} from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway } from '../support/gateway.js';

let t: TestGateway;
let customerId: string;
let otherCustomerId: string;
beforeAll(async () => {
  t = await startTestGateway();
  customerId = (await t.run(CreateCustomerDocument, { input: { name: 'Billing Co', currency: 'USD' } })).createCustomer.customer.id;
  otherCustomerId = (await t.run(CreateCustomerDocument, { input: { name: 'Other Co' } })).createCustomer.customer.id;
});
afterAll(async () => t?.stop());

const count = async (table: string) => Number((await t.sql<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);

describe('invoices', () => {
  it.each([
    ['USD', [{ q: 3, u: '19.99' }, { q: 1, u: '0.05' }], '60.02'],
    ['JPY', [{ q: 2, u: '500' }], '1000'],
    ['BHD', [{ q: 1, u: '1.234' }, { q: 2, u: '0.001' }], '1.236'],
  ])('derives totals in %s from the line items, in the currency exponent', async (currency, items, total) => {
    const { createInvoice } = await t.run(CreateInvoiceDocument, {
      input: { customerId, currency, lineItems: items.map((i) => ({ description: 'item', quantity: i.q, unitAmount: i.u })) },
    });
    expect(createInvoice.invoice).toMatchObject({ status: 'DRAFT', currency, subtotal: total, total, amountPaid: expect.any(String) });
    expect(createInvoice.invoice.amountDue).toBe(total);
    const stored = await t.sql<{ subtotal_minor: string }>('SELECT subtotal_minor FROM invoice WHERE number = $1', [
      createInvoice.invoice.number,
    ]);
    expect(stored[0].subtotal_minor).toBe(total.replace('.', ''));
  });

  it('adds tax to the total and walks the status life cycle, stamping times', async () => {
    const { createInvoice } = await t.run(CreateInvoiceDocument, {
      input: { customerId, currency: 'EUR', tax: '2.10', lineItems: [{ description: 'Plan', quantity: 1, unitAmount: '10.00' }] },
    });
    const inv = createInvoice.invoice;
    expect(inv).toMatchObject({ subtotal: '10.00', tax: '2.10', total: '12.10', amountPaid: '0.00', amountDue: '12.10' });
    const open = await t.run(UpdateInvoiceDocument, { id: inv.id, expectedVersion: 1, input: { status: 'OPEN' } });
    expect(open.updateInvoice.invoice.issuedAt).not.toBeNull();
    const paid = await t.run(UpdateInvoiceDocument, { id: inv.id, input: { status: 'PAID' } });
    expect(paid.updateInvoice.invoice).toMatchObject({ status: 'PAID', amountPaid: '12.10', amountDue: '0.00', version: 3 });
    expect(paid.updateInvoice.invoice.paidAt).not.toBeNull();
    const back = await t.request(UpdateInvoiceDocument, { id: inv.id, input: { status: 'DRAFT' } });
    expect(codes(back)).toEqual(['BAD_USER_INPUT']);
    expect(back.body.errors![0].extensions!.field).toBe('status');
  });

  it('replaces line items of a DRAFT invoice and recomputes the subtotal; refuses it once OPEN', async () => {
    const { createInvoice } = await t.run(CreateInvoiceDocument, {
      input: { customerId, currency: 'USD', lineItems: [{ description: 'a', quantity: 1, unitAmount: '1.00' }] },
    });
    const id = createInvoice.invoice.id;
    const updated = await t.run(UpdateInvoiceDocument, {
      id,
      input: { lineItems: [{ description: 'b', quantity: 4, unitAmount: '2.50' }, { description: 'c', quantity: 1, unitAmount: '0.99' }] },
    });
    expect(updated.updateInvoice.invoice.subtotal).toBe('10.99');
    expect(updated.updateInvoice.invoice.lineItems.map((l) => l.description)).toEqual(['b', 'c']);
    await t.run(UpdateInvoiceDocument, { id, input: { status: 'OPEN' } });
    const refused = await t.request(UpdateInvoiceDocument, { id, input: { lineItems: [{ description: 'x', quantity: 1, unitAmount: '1' }] } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect((await t.run(InvoiceDocument, { id })).invoice.subtotal).toBe('10.99');
  });

  it.each([
    ['a negative quantity', { currency: 'USD', lineItems: [{ description: 'x', quantity: -1, unitAmount: '1.00' }] }, 'lineItems[0].quantity'],
    ['a zero quantity', { currency: 'USD', lineItems: [{ description: 'x', quantity: 0, unitAmount: '1.00' }] }, 'lineItems[0].quantity'],
    ['an unknown currency', { currency: 'ABC', lineItems: [{ description: 'x', quantity: 1, unitAmount: '1.00' }] }, 'currency'],
    ['too many decimals for JPY', { currency: 'JPY', lineItems: [{ description: 'x', quantity: 1, unitAmount: '1.5' }] }, 'lineItems[0].unitAmount'],
    ['a negative unit amount', { currency: 'USD', lineItems: [{ description: 'x', quantity: 1, unitAmount: '-1.00' }] }, 'lineItems[0].unitAmount'],
    ['no line items', { currency: 'USD', lineItems: [] }, 'lineItems'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and writes nothing', async (_name, input, field) => {
    const before = [await count('invoice'), await count('invoice_line_item')];
    const res = await t.request(CreateInvoiceDocument, { input: { customerId, ...input } });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0].extensions!.field).toBe(field);
    expect([await count('invoice'), await count('invoice_line_item')]).toEqual(before);
  });

  it('refuses a float where a Decimal string is expected', async () => {
    const res = await t.request(CreateInvoiceDocument, {
      input: { customerId, currency: 'USD', lineItems: [{ description: 'x', quantity: 1, unitAmount: 1.5 as unknown as string }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toMatch(/Decimal/);
  });

  it('filters invoices by status, customer and due dates', async () => {
    const due = (d: string) => new Date(d).toISOString();
    await t.run(CreateInvoiceDocument, {
      input: { customerId: otherCustomerId, currency: 'USD', dueAt: due('2030-01-15'), lineItems: [{ description: 'early', quantity: 1, unitAmount: '1' }] },
    });
    await t.run(CreateInvoiceDocument, {
      input: { customerId: otherCustomerId, currency: 'USD', dueAt: due('2030-03-15'), lineItems: [{ description: 'late', quantity: 1, unitAmount: '1' }] },
    });
    const mine = await t.run(InvoicePageDocument, { filter: { customerId: otherCustomerId } });
    expect(mine.invoices.totalCount).toBe(2);
    const before = await t.run(InvoicePageDocument, { filter: { customerId: otherCustomerId, dueBefore: due('2030-02-01') } });
    expect(before.invoices.edges.map((e) => e.node.lineItems[0].description)).toEqual(['early']);
    const after = await t.run(InvoicePageDocument, { filter: { customerId: otherCustomerId, dueAfter: due('2030-02-01') } });
    expect(after.invoices.edges.map((e) => e.node.lineItems[0].description)).toEqual(['late']);
    const paid = await t.run(InvoicePageDocument, { filter: { status: 'PAID' } });
    expect(paid.invoices.edges.every((e) => e.node.status === 'PAID')).toBe(true);
    expect(paid.invoices.totalCount).toBe(1);
  });
});

describe('contracts', () => {
  it('creates with a value in minor units, links invoices to it, and checks it belongs to the customer', async () => {
    const { createContract } = await t.run(CreateContractDocument, {
      input: { customerId, title: 'Annual plan', status: 'ACTIVE', startDate: '2026-01-01T00:00:00Z', endDate: '2026-12-31T00:00:00Z', value: { amount: '12000.00', currency: 'usd' } },
    });
    expect(createContract.contract).toMatchObject({ title: 'Annual plan', status: 'ACTIVE', value: { amount: '12000.00', currency: 'USD' }, customer: { id: customerId } });
    const { createInvoice } = await t.run(CreateInvoiceDocument, {
      input: { customerId, contractId: createContract.contract.id, currency: 'USD', lineItems: [{ description: 'Jan', quantity: 1, unitAmount: '1000' }] },
    });
    expect(createInvoice.invoice.contract?.id).toBe(createContract.contract.id);
    const foreign = await t.request(CreateInvoiceDocument, {
      input: { customerId: otherCustomerId, contractId: createContract.contract.id, currency: 'USD', lineItems: [{ description: 'x', quantity: 1, unitAmount: '1' }] },
    });
    expect(codes(foreign)).toEqual(['BAD_USER_INPUT']);
    expect(foreign.body.errors![0].extensions!.field).toBe('contractId');
  });

  it('refuses an end before the start, and a stale expectedVersion', async () => {
    const bad = await t.request(CreateContractDocument, {
      input: { customerId, title: 'Backwards', startDate: '2026-06-01T00:00:00Z', endDate: '2026-01-01T00:00:00Z' },
    });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    const { createContract } = await t.run(CreateContractDocument, { input: { customerId, title: 'Draft deal' } });
    await t.run(UpdateContractDocument, { id: createContract.contract.id, expectedVersion: 1, input: { status: 'ACTIVE' } });
    const stale = await t.request(UpdateContractDocument, { id: createContract.contract.id, expectedVersion: 1, input: { title: 'Nope' } });
    expect(codes(stale)).toEqual(['CONFLICT']);
    const list = await t.run(ContractsDocument, { filter: { customerId, status: 'ACTIVE' } });
    expect(list.contracts.edges.map((e) => e.node.title).sort()).toEqual(['Annual plan', 'Draft deal']);
  });
});
