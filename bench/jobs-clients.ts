/**
 * The mutation clients of `bench:jobs`, in a process of their own (started with IPC by
 * bench/jobs.ts), so that building requests and reading answers does not take the CPU of the
 * gateway being measured (its process runs the gateway). Each message `{ url, key, integrationId,
 * customerIds, clients, bulk }` sends, from `clients` concurrent clients, a pushCustomer per
 * customer (bulk 0) or pushCustomers of `bulk` customers each, and answers `{ done: seconds }`,
 * or `{ error }` on the first GraphQL error.
 */
interface Work {
  url: string;
  key: string;
  integrationId: string;
  customerIds: string[];
  clients: number;
  bulk: number;
}

const PUSH = `mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i) { job { id status } } }`;
const PUSH_MANY = `mutation($c: [ID!]!, $i: ID!) { pushCustomers(customerIds: $c, integrationId: $i) { jobs { id status } } }`;

async function graphql(w: Work, query: string, variables: Record<string, unknown>): Promise<void> {
  const res = await fetch(w.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${w.key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
}

async function run(w: Work): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: w.clients }, async () => {
      while (next < w.customerIds.length) {
        if (w.bulk > 0) {
          const batch = w.customerIds.slice(next, (next += w.bulk));
          await graphql(w, PUSH_MANY, { c: batch, i: w.integrationId });
        } else {
          await graphql(w, PUSH, { c: w.customerIds[next++], i: w.integrationId });
        }
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

process.on('message', (w: Work) => {
  run(w).then(
    (seconds) => process.send!({ done: seconds }),
    (err: Error) => process.send!({ error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
