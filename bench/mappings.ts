/**
 * `npm run bench:mappings`: what a GENERIC integration's mapping costs per record, against the
 * same body written as a JavaScript object literal (what a built-in connector does), in the same
 * process. Both run the customer mapping of docs/integrations/generic.md on one record; the
 * JSONata expression is compiled once (as the connector caches it) and evaluated with the
 * connector's limits. Prints µs per record for each (median of RUNS rounds of N records) and the
 * ratio; nothing here touches the network or the database.
 */
import { expression } from '../src/providers/generic/mappings.js';

const N = Number(process.env.BENCH_RECORDS ?? 20_000);
const RUNS = 7;

const source = `{
  "displayName": name,
  "contact": { "email": email, "phone": phone },
  "reference": customerId,
  "label": name & " <" & email & ">"
}`;
const record = { customerId: '0190a9e2-5b1c-7d3e-8f4a-1b2c3d4e5f60', name: 'Grace Hopper', email: 'grace@example.com', phone: '+1 555 0142', taxId: null, currency: 'USD' };
const literal = (r: typeof record) => ({ displayName: r.name, contact: { email: r.email, phone: r.phone }, reference: r.customerId, label: `${r.name} <${r.email}>` });

const mapped = expression(source);
if (JSON.stringify(await mapped.evaluate(record, { externalId: null })) !== JSON.stringify(literal(record))) throw new Error('the two bodies differ');

async function perRecordUs(run: () => unknown): Promise<number> {
  const rounds: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const started = performance.now();
    for (let i = 0; i < N; i++) await run();
    rounds.push(((performance.now() - started) * 1000) / N);
  }
  return rounds.sort((x, y) => x - y)[Math.floor(RUNS / 2)];
}

// Warm both paths before timing.
await perRecordUs(() => mapped.evaluate(record, { externalId: null }));
await perRecordUs(() => literal(record));
const jsonata = await perRecordUs(() => mapped.evaluate(record, { externalId: null }));
const baseline = await perRecordUs(() => literal(record));
console.log(`records per round: ${N}, rounds: ${RUNS} (median)`);
console.log(`object literal (baseline): ${baseline.toFixed(2)} µs/record`);
console.log(`JSONata mapping:           ${jsonata.toFixed(2)} µs/record (${(jsonata / baseline).toFixed(0)}x the baseline)`);
