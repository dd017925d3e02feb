import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateCustomerDocument,
  CustomerDocument,
  CustomersDocument,
  UpdateCustomerDocument,
} from '../generated/graphql.js';
import type { CustomersQuery } from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway } from '../support/gateway.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => t?.stop());

const countCustomers = async () => Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM customer'))[0].n);

describe('customers', () => {
  it('creates, reads back by global id, and normalises the currency', async () => {
    const { createCustomer } = await t.run(CreateCustomerDocument, {
      input: { name: '  Ada Lovelace ', email: 'ada@example.com', currency: 'gbp', phone: '+44 20 7946 0000' },
    });
    expect(createCustomer.customer).toMatchObject({ name: 'Ada Lovelace', currency: 'GBP', version: 1, externalRefs: [] });
    const { customer } = await t.run(CustomerDocument, { id: createCustomer.customer.id });
    expect(customer.email).toBe('ada@example.com');
    expect(Buffer.from(customer.id, 'base64url').toString()).toMatch(/^Customer:/);
  });

  it('keeps email unique case-insensitively (the first identity rule)', async () => {
    await t.run(CreateCustomerDocument, { input: { name: 'Grace', email: 'grace@example.com' } });
    const before = await countCustomers();
    const res = await t.request(CreateCustomerDocument, { input: { name: 'Grace again', email: 'GRACE@Example.com' } });
    expect(codes(res)).toEqual(['CONFLICT']);
    expect(res.body.errors![0].extensions!.field).toBe('email');
    expect(await countCustomers()).toBe(before);
  });

  it.each([
    [{ name: 'X', email: 'not-an-email' }, 'email'],
    [{ name: 'X', currency: 'ZZZ' }, 'currency'],
    [{ name: '   ' }, 'name'],
    [{ name: 'X', phone: 'call me' }, 'phone'],
  ])('refuses bad input %o with BAD_USER_INPUT naming %s, writing nothing', async (input, field) => {
    const before = await countCustomers();
    const res = await t.request(CreateCustomerDocument, { input });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0].extensions!.field).toBe(field);
    expect(await countCustomers()).toBe(before);
  });

  it('updates with optimistic concurrency: a stale expectedVersion is a CONFLICT and writes nothing', async () => {
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Versioned' } });
    const id = createCustomer.customer.id;
    const first = await t.run(UpdateCustomerDocument, { id, expectedVersion: 1, input: { name: 'Versioned 2' } });
    expect(first.updateCustomer.customer.version).toBe(2);

    const stale = await t.request(UpdateCustomerDocument, { id, expectedVersion: 1, input: { name: 'Lost update' } });
    expect(codes(stale)).toEqual(['CONFLICT']);
    expect(stale.body.errors![0].extensions!.currentVersion).toBe(2);
    const { customer } = await t.run(CustomerDocument, { id });
    expect(customer).toMatchObject({ name: 'Versioned 2', version: 2 });
  });

  it('a bad field in an update writes nothing, not even the good fields', async () => {
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Atomic', phone: '+1 555 0100' } });
    const id = createCustomer.customer.id;
    const res = await t.request(UpdateCustomerDocument, { id, input: { name: 'Changed', email: 'broken' } });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    const { customer } = await t.run(CustomerDocument, { id });
    expect(customer).toMatchObject({ name: 'Atomic', version: 1 });
  });

  it('an unknown id is NOT_FOUND; a malformed id is BAD_USER_INPUT', async () => {
    const missing = Buffer.from('Customer:01a20031-c7e7-7139-be23-000000000000').toString('base64url');
    expect(codes(await t.request(CustomerDocument, { id: missing }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request(CustomerDocument, { id: 'garbage!' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('pages with keyset cursors through every row exactly once', async () => {
    for (let i = 0; i < 7; i++) await t.run(CreateCustomerDocument, { input: { name: `Pager ${i}`, email: `pager${i}@example.com` } });
    const seen: string[] = [];
    let after: string | null | undefined = null;
    let pages = 0;
    do {
      const { customers }: CustomersQuery = await t.run(CustomersDocument, { first: 3, after, filter: { search: 'pager' } });
      expect(customers.totalCount).toBe(7);
      seen.push(...customers.edges.map((e) => e.node.name));
      after = customers.pageInfo.hasNextPage ? customers.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `Pager ${i}`));
  });

  it('filters by exact email (case-insensitive), name search and updatedSince', async () => {
    await t.run(CreateCustomerDocument, { input: { name: 'Filter Target', email: 'Target@Example.org' } });
    const byEmail = await t.run(CustomersDocument, { filter: { email: 'target@example.ORG' } });
    expect(byEmail.customers.edges.map((e) => e.node.name)).toEqual(['Filter Target']);
    const bySearch = await t.run(CustomersDocument, { filter: { search: 'filter tar' } });
    expect(bySearch.customers.edges.map((e) => e.node.name)).toEqual(['Filter Target']);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await t.run(CustomersDocument, { filter: { updatedSince: future } })).customers.totalCount).toBe(0);
    // LIKE wildcards in a search are literal characters, not patterns.
    expect((await t.run(CustomersDocument, { filter: { search: '%' } })).customers.totalCount).toBe(0);
  });

  it('refuses a malformed cursor and a page size over the cap', async () => {
    const bad = await t.request(CustomersDocument, { after: 'not-a-cursor' });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.body.errors![0].extensions!.field).toBe('after');
    const big = await t.request(CustomersDocument, { first: 101 });
    expect(codes(big)).toEqual(['BAD_USER_INPUT']);
    expect(big.body.errors![0].extensions!.field).toBe('first');
    expect(codes(await t.request(CustomersDocument, { first: -1 }))).toEqual(['BAD_USER_INPUT']);
  });
});
