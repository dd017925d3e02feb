import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import DataLoader from 'dataloader';
import express from 'express';
import pg from 'pg';

/**
 * The reference the gateway is measured against: Apollo Server + DataLoader + pg, hand-written
 * SQL, no ORM, no type-graphql, no auth or limits. It answers the benchmark's invoice page from
 * the same tables.
 */
const typeDefs = `#graphql
  type Customer { id: ID! name: String! email: String }
  type InvoiceLineItem { description: String! quantity: Int! unitAmount: String! amount: String! }
  type Invoice { id: ID! number: String status: String! total: String! customer: Customer! lineItems: [InvoiceLineItem!]! }
  type InvoiceEdge { cursor: String! node: Invoice! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type InvoiceConnection { edges: [InvoiceEdge!]! pageInfo: PageInfo! }
  type Query { invoices(first: Int, after: String): InvoiceConnection! }
`;

const money = (minor: string) => {
  const s = minor.padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
};

interface Ctx {
  customers: DataLoader<string, Record<string, unknown>>;
  lines: DataLoader<string, Record<string, unknown>[]>;
}

export async function startBaselineServer(databaseUrl: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  const resolvers = {
    Query: {
      invoices: async (_: unknown, args: { first?: number; after?: string }) => {
        const first = Math.min(args.first ?? 20, 100);
        const after = args.after ? Buffer.from(args.after, 'base64url').toString().slice(3) : null;
        const { rows } = await pool.query(
          `SELECT id, number, status, customer_id, subtotal_minor, tax_minor FROM invoice
           WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2`,
          [after, first + 1],
        );
        const page = rows.slice(0, first);
        const edges = page.map((r) => ({ cursor: Buffer.from(`k1:${r.id}`).toString('base64url'), node: r }));
        return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
      },
    },
    Invoice: {
      total: (r: { subtotal_minor: string; tax_minor: string }) => money((BigInt(r.subtotal_minor) + BigInt(r.tax_minor)).toString()),
      customer: (r: { customer_id: string }, _: unknown, ctx: Ctx) => ctx.customers.load(r.customer_id),
      lineItems: (r: { id: string }, _: unknown, ctx: Ctx) => ctx.lines.load(r.id),
    },
    InvoiceLineItem: {
      unitAmount: (r: { unit_amount_minor: string }) => money(r.unit_amount_minor),
      amount: (r: { amount_minor: string }) => money(r.amount_minor),
    },
  };
  const httpServer: Server = createServer();
  const apollo = new ApolloServer<Ctx>({ typeDefs, resolvers });
  await apollo.start();
  const app = express();
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async () => ({
        customers: new DataLoader(async (ids) => {
          const { rows } = await pool.query('SELECT id, name, email FROM customer WHERE id = ANY($1)', [ids]);
          const byId = new Map(rows.map((r) => [r.id, r]));
          return ids.map((id) => byId.get(id));
        }),
        lines: new DataLoader(async (ids) => {
          const { rows } = await pool.query(
            'SELECT invoice_id, description, quantity, unit_amount_minor, amount_minor FROM invoice_line_item WHERE invoice_id = ANY($1) ORDER BY invoice_id, position',
            [ids],
          );
          return ids.map((id) => rows.filter((r) => r.invoice_id === id));
        }),
      }),
    }),
  );
  httpServer.on('request', app);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      await apollo.stop();
      httpServer.close();
      await pool.end();
    },
  };
}
