/**
 * The consistency soak (`npm run soak`, and a smaller one in test/integration/soak.test.ts): the
 * sandbox's Salesforce, HubSpot, Stripe and custom CRM (GENERIC, JSONata mappings) connected to
 * one gateway, auto-sync on customers and contracts, changes made at the providers (a person's
 * edit at the fake, whose webhook or Outbound Message then reaches the gateway) and through the
 * API, under faults; then, once everything settled, every linked record at every provider
 * compared with the canonical model, field by field.
 *
 * Measured per change, exactly: each change writes a value no other change writes (a token), so
 * the first 2xx write to a target that carries it is that change's arrival there.
 */
import { EXTERNAL_ID_FIELD } from '../src/providers/salesforce/api.js';
import { STAGE_OF_STATUS } from '../src/providers/salesforce/connector.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/providers/salesforce/fake.js';
import { CRM_SANDBOX_API_KEY } from '../src/providers/generic/fake.js';
import type { RecordedRequest } from '../src/sandbox/fake-server.js';
import type { Sandbox } from '../src/sandbox/sandbox.js';

export type Source = 'api' | 'stripe' | 'hubspot' | 'salesforce';
export type Target = 'stripe' | 'hubspot' | 'salesforce' | 'crm';
const TARGETS: Target[] = ['stripe', 'hubspot', 'salesforce', 'crm'];
type Entity = 'Customer' | 'Contract';

/** What the soak needs from the gateway under test, however it runs (child processes, or the test's). */
export interface SoakGateway {
  graphqlUrl: string;
  adminKey: string;
  sql<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Base URLs of the gateway processes running now (their /metrics are read). */
  processUrls(): string[];
  /** Base URL of the worker process that killWorker ends. */
  workerUrl(): string;
  killWorker(): Promise<void>;
  startWorker(): Promise<void>;
}

export interface SoakOptions {
  changes: number;
  /** Changes started per second. */
  rate: number;
  customers: number;
  contracts: number;
  /** Share of provider requests answered 500/503 (transient). */
  faultRate: number;
  /** Share of webhooks delivered twice; deliveries are also reordered. */
  duplicateRate: number;
  settleTimeoutMs: number;
  seed: number;
  /** SIGKILL the worker halfway (and start another). */
  killWorker: boolean;
  log: (line: string) => void;
}

/**
 * Field ownership of the case: the CRM (HubSpot) owns the contact's name and phone and the deal
 * stage, billing (Stripe) the email, sales (Salesforce) the opportunity's name. A change from a
 * provider that does not own the field is a conflict: not applied, and the owner's value is
 * written back there.
 */
export const SOAK_OWNERSHIP = { 'customer.email': 'STRIPE', 'contract.title': 'SALESFORCE', 'contract.status': 'HUBSPOT' } as const;
const OWNER: Record<string, Source> = { 'Customer.name': 'hubspot', 'Customer.phone': 'hubspot', 'Customer.email': 'stripe', 'Contract.title': 'salesforce', 'Contract.status': 'hubspot' };

/** The custom CRM's shape (see test/integration/generic-target.test.ts). */
export const CRM_MAPPINGS = {
  'customer.upsert': {
    method: 'PATCH',
    path: '/api/v2/clients/{externalId}',
    create: { method: 'POST', path: '/api/v2/clients' },
    body: `{ "displayName": name, "contact": { "email": email, "phone": phone }, "reference": customerId, "label": name & " <" & email & ">" }`,
    id: 'data.id',
  },
  'contract.upsert': {
    method: 'PATCH',
    path: '/api/v2/deals/{externalId}',
    create: { method: 'POST', path: '/api/v2/deals' },
    body: `{
      "title": title,
      "clientId": $customerExternalId,
      "value": amount ? { "amount": $number(amount), "currency": currency },
      "stage": $lookup({ "DRAFT": "open", "ACTIVE": "won", "SUSPENDED": "paused", "TERMINATED": "lost", "EXPIRED": "lost" }, status),
      "reference": contractId
    }`,
    id: 'data.id',
  },
};
const CRM_STAGE: Record<string, string> = { DRAFT: 'open', ACTIVE: 'won', SUSPENDED: 'paused', TERMINATED: 'lost', EXPIRED: 'lost' };
const HUBSPOT_STAGE: Record<string, string> = { DRAFT: 'appointmentscheduled', ACTIVE: 'closedwon', SUSPENDED: 'contractsent', TERMINATED: 'closedlost' };
const STATUSES = ['DRAFT', 'ACTIVE', 'SUSPENDED', 'TERMINATED'];

/** The fields each target carries per entity (ProviderModule.syncedFields; the CRM: its mapping). */
export const CARRIED: Record<Target, Partial<Record<Entity, string[]>>> = {
  stripe: { Customer: ['name', 'email', 'phone'] },
  hubspot: { Customer: ['name', 'email', 'phone'], Contract: ['title', 'status', 'value'] },
  salesforce: { Customer: ['name', 'phone'], Contract: ['title', 'status', 'value'] },
  crm: { Customer: ['name', 'email', 'phone'], Contract: ['title', 'status', 'value'] },
};

/** A small seeded generator: the same seed makes the same changes. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

interface Change {
  seq: number;
  source: Source;
  entity: Entity;
  row: string;
  field: string;
  value: string;
  at: number;
  /** A provider change to a field it does not own: a conflict, not propagated. */
  conflict: boolean;
  /** The token it is recognised by in bodies (null: a status, not unique). */
  token: string | null;
  /** An API change: when its answer came (it committed between `at` and this). */
  doneAt?: number;
}

export interface RouteLatency {
  route: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  durationSeconds: number;
  achievedRate: number;
  changesBySource: Record<string, number>;
  conflicts: number;
  records: number;
  consistentRecords: number;
  consistency: number;
  mismatches: string[];
  latency: { all: RouteLatency; routes: RouteLatency[] };
  /** Per change and target: arrived (measured), overtaken by a newer change of the field before a write carried it, or never arrived. */
  /**
   * `unorderable`: a Stripe change of a field the same record's other Stripe change set in the
   * same whole second (Stripe's event time). When a gateway write landed at Stripe between
   * the two, both events report the same previous value and nothing in them orders the pair: the
   * gateway keeps one in every system, which may be the older (docs/sync.md#consistency).
   * Counted apart from `missing`, which is a change that could be ordered and was lost.
   */
  arrivals: { measured: number; superseded: number; unorderable: number; missing: number };
  jobs: { total: number; failed: number; byStatus: Record<string, number> };
  errorRate: number;
  suppressedEchoes: number;
  echoCalls: number;
  echoExamples: string[];
  webhookEvents: { total: number; failed: number; duplicatesAtFakes: number };
  duplicateContactsAtHubspot: number;
  settleSeconds: number;
  workerKilledAt: number | null;
  /** Outside the worker kill's window (changes made from 5 s before the SIGKILL to 25 s after it left out): the steady state. */
  steadyLatency: RouteLatency;
  /**
   * Also without the 429 burst's window (changes made from 1 s before it to 10 s after it): what
   * is left are the 5 % transient faults. A change whose write is answered 429 with
   * `Retry-After: 1` cannot arrive in under a second, so the burst is a floor, not a cost.
   */
  calmLatency: RouteLatency;
  /** Seconds from the start to the 429 burst. */
  burstAt: number | null;
  /** Each measured arrival: route, latency, and when its change was made (s from the start). */
  latencies: Array<{ route: string; ms: number; at: number }>;
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
function summarise(route: string, values: number[]): RouteLatency {
  const s = [...values].sort((a, b) => a - b);
  return { route, n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), max: s.at(-1) ?? NaN };
}

const norm = (v: unknown): string => (v === null || v === undefined ? '' : String(v).trim());
const amount = (v: unknown): string => (v === null || v === undefined || v === '' ? '' : Number(v).toFixed(2));

function graphql(url: string, key: string) {
  return async (query: string, variables: Record<string, unknown> = {}): Promise<any> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

/** A write a target received, reduced to the canonical fields it carries. */
interface Write {
  target: Target;
  entity: Entity;
  row: string;
  fields: Record<string, string>;
  at: number;
  answeredAt: number | null;
  ok: boolean;
}

/** Every write to a target, in arrival order, as canonical fields (GETs, tokens and associations left out). */
function writesOf(target: Target, requests: RecordedRequest[]): Write[] {
  const out: Write[] = [];
  for (const r of requests) {
    if (r.method === 'GET' || r.path.includes('/oauth2/')) continue;
    const base = { target, at: r.at, answeredAt: r.answeredAt, ok: r.status !== null && r.status >= 200 && r.status < 300 };
    try {
      if (target === 'stripe' && /^\/v1\/customers(\/\w+)?$/.test(r.path)) {
        const form = new URLSearchParams(r.body);
        const row = form.get('metadata[switchboard_id]');
        if (row) out.push({ ...base, entity: 'Customer', row, fields: { name: norm(form.get('name')), email: norm(form.get('email')), phone: norm(form.get('phone')) } });
      } else if (target === 'hubspot' && (r.path.endsWith('/batch/upsert') || (r.method === 'PATCH' && r.path.startsWith('/crm/v3/objects/')))) {
        const body = JSON.parse(r.body) as { inputs?: Array<{ properties: Record<string, string> }>; properties?: Record<string, string> };
        const p = body.inputs?.[0].properties ?? body.properties ?? {};
        if (r.path.includes('/contacts/')) out.push({ ...base, entity: 'Customer', row: p.switchboard_id, fields: { name: `${norm(p.firstname)} ${norm(p.lastname)}`.trim(), email: norm(p.email), phone: norm(p.phone) } });
        else out.push({ ...base, entity: 'Contract', row: p.switchboard_contract_id, fields: { title: norm(p.dealname), status: norm(p.dealstage), value: amount(p.amount) } });
      } else if (target === 'salesforce' && r.method === 'PATCH') {
        const m = /\/sobjects\/(Account|Opportunity)\/\w+\/([^/?]+)$/.exec(r.path);
        if (!m) continue;
        const b = JSON.parse(r.body) as Record<string, unknown>;
        const row = decodeURIComponent(m[2]);
        if (m[1] === 'Account') out.push({ ...base, entity: 'Customer', row, fields: { name: norm(b.Name), phone: norm(b.Phone) } });
        else out.push({ ...base, entity: 'Contract', row, fields: { title: norm(b.Name), status: norm(b.StageName), value: amount(b.Amount) } });
      } else if (target === 'crm' && /^\/api\/v2\/(clients|deals)/.test(r.path)) {
        const b = JSON.parse(r.body) as Record<string, any>;
        if (r.path.includes('/clients')) out.push({ ...base, entity: 'Customer', row: b.reference, fields: { name: norm(b.displayName), email: norm(b.contact?.email), phone: norm(b.contact?.phone) } });
        else out.push({ ...base, entity: 'Contract', row: b.reference, fields: { title: norm(b.title), status: norm(b.stage), value: amount(b.value?.amount) } });
      }
    } catch {
      // A body the soak cannot read is not a write it measures.
    }
  }
  return out;
}

/** How a canonical value looks at a target (a status is a stage there). */
function atTarget(target: Target, entity: Entity, field: string, value: string): string {
  if (field === 'email') return value.toLowerCase();
  if (entity === 'Contract' && field === 'status') return target === 'hubspot' ? HUBSPOT_STAGE[value] ?? value : target === 'salesforce' ? STAGE_OF_STATUS[value] ?? value : CRM_STAGE[value] ?? value;
  return value;
}

export async function runSoak(sandbox: Sandbox, gw: SoakGateway, o: SoakOptions): Promise<SoakReport> {
  const gql = graphql(gw.graphqlUrl, gw.adminKey);
  const random = rng(o.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  let seq = 0;
  const token = () => `z${(++seq).toString(36)}q`;

  // --- The case: four integrations, auto-sync on, webhooks pointed at the gateway. ---
  const settings = { timeoutMs: 3000, retryBaseDelayMs: 50, retryMaxDelayMs: 1000, maxAttempts: 10, requestsPerSecond: 200, concurrency: 20 };
  const make = async (provider: string, baseUrl: string, credentials: unknown, autoSync: Entity[], extra: Record<string, unknown> = {}) =>
    (await gql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id webhookUrl } } }`, {
      input: { provider, name: `soak ${provider}`, baseUrl, credentials, autoSync, settings, ...extra },
    })).createIntegration.integration as { id: string; webhookUrl: string };
  const stripeSecret = 'whsec_' + Buffer.from('soak-stripe-webhook-secret-0001').toString('base64');
  const hubspotSecret = 'soak-hubspot-client-secret-00001';
  const integrations = {
    stripe: await make('STRIPE', sandbox.stripe.url, { apiKey: 'sk_test_soak0123456789' }, ['Customer'], { webhookSecret: stripeSecret }),
    hubspot: await make('HUBSPOT', sandbox.hubspot.url, { accessToken: 'pat-na1-soak-0123456789' }, ['Customer', 'Contract'], { webhookSecret: hubspotSecret }),
    salesforce: await make('SALESFORCE', sandbox.salesforce.url, { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET }, ['Customer', 'Contract'], { webhookSecret: sandbox.salesforce.handler.organizationId }),
    crm: await make('GENERIC', sandbox.crm.url, { headers: { 'X-Api-Key': CRM_SANDBOX_API_KEY } }, ['Customer', 'Contract'], { mappings: CRM_MAPPINGS }),
  };
  sandbox.stripe.handler.setWebhook({ url: integrations.stripe.webhookUrl, secret: stripeSecret });
  sandbox.hubspot.handler.setWebhook({ url: integrations.hubspot.webhookUrl, secret: hubspotSecret });
  sandbox.salesforce.handler.setWebhook({ url: integrations.salesforce.webhookUrl });
  const rowOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];
  const integrationRow = Object.fromEntries(Object.entries(integrations).map(([k, v]) => [rowOf(v.id), k as Target]));

  // --- Seed records through the API, then wait until every provider has them. ---
  /** `${entity}:${row}:${field}` -> each value set, and by whom (the latest last). */
  const origins = new Map<string, Array<{ value: string; source: Source; at: number }>>();
  const customers: Array<{ id: string; row: string }> = [];
  for (let i = 0; i < o.customers; i++) {
    const t = token();
    const input = { name: `Soak ${t}`, email: `${t}@soak.example`, phone: `+1 555 ${String(seq).padStart(7, '0')}` };
    const { createCustomer } = await gql(`mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }`, { input });
    customers.push({ id: createCustomer.customer.id, row: rowOf(createCustomer.customer.id) });
  }
  const contracts: Array<{ id: string; row: string }> = [];
  for (let i = 0; i < o.contracts; i++) {
    const owner = customers[i % customers.length];
    const { createContract } = await gql(`mutation($input: CreateContractInput!) { createContract(input: $input) { contract { id } } }`, {
      input: { customerId: owner.id, title: `Deal ${token()}`, status: 'DRAFT', value: { amount: '1000.00', currency: 'EUR' }, endDate: '2027-06-30T00:00:00.000Z' },
    });
    contracts.push({ id: createContract.contract.id, row: rowOf(createContract.contract.id) });
  }
  o.log(`seeded ${customers.length} customers and ${contracts.length} contracts through the API; waiting for the providers`);
  await settle(sandbox, gw, o.settleTimeoutMs);

  // Provider ids of each record (HubSpot: the newest contact carrying the id, see duplicates below).
  const hubspotContact = (row: string) => {
    let best: string | null = null;
    for (const c of Object.values(sandbox.hubspot.handler.state().contacts)) if (c.properties.switchboard_id === row && (best === null || Number(c.id) > Number(best))) best = c.id;
    return best;
  };
  const stripeIds = new Map(Object.values(sandbox.stripe.handler.state().customers).map((c: any) => [c.metadata?.switchboard_id as string, c.id as string]));
  const sfIds = { Customer: new Map<string, string>(), Contract: new Map<string, string>() };
  for (const a of Object.values(sandbox.salesforce.handler.state().accounts)) sfIds.Customer.set(String(a[EXTERNAL_ID_FIELD]), String(a.Id));
  for (const a of Object.values(sandbox.salesforce.handler.state().opportunities)) sfIds.Contract.set(String(a[EXTERNAL_ID_FIELD]), String(a.Id));
  const hubspotDeals = new Map(Object.values(sandbox.hubspot.handler.state().deals).map((d) => [d.properties.switchboard_contract_id!, d.id]));

  // --- Faults from here on. ---
  for (const server of [sandbox.stripe, sandbox.hubspot, sandbox.salesforce, sandbox.crm]) server.setFaults({ errorRate: o.faultRate });
  sandbox.stripe.handler.webhooks.faults = { duplicateRate: o.duplicateRate, shuffle: true };
  sandbox.hubspot.handler.webhooks.faults = { duplicateRate: o.duplicateRate, shuffle: true };
  sandbox.salesforce.handler.outboundFaults = { duplicateRate: o.duplicateRate, shuffle: true };
  const requestMark = Object.fromEntries(TARGETS.map((t) => [t, sandbox[t].requests.length])) as Record<Target, number>;

  // Suppressed echoes: summed over every gateway process, the killed worker's read just before.
  const echoCounter = async (urls = gw.processUrls()): Promise<number> => {
    let sum = 0;
    for (const url of urls) {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${gw.adminKey}` } }).catch(() => null);
      if (!res?.ok) continue;
      for (const m of (await res.text()).matchAll(/^switchboard_sync_suppressed_total\{[^}]*kind="echo"[^}]*\} (\d+)/gm)) sum += Number(m[1]);
    }
    return sum;
  };
  const echoesBefore = await echoCounter();
  let echoesOfKilled = 0;

  // --- The changes. ---
  const changes: Change[] = [];
  const started = Date.now();
  let workerKilledAt: number | null = null;
  let burstAt: number | null = null;
  const inFlight = new Set<Promise<void>>();
  const errors: string[] = [];
  const record = (c: Omit<Change, 'seq' | 'at'> & { at?: number }): Change => {
    const change: Change = { ...c, seq: changes.length, at: c.at ?? Date.now() };
    changes.push(change);
    const key = `${c.entity}:${c.row}:${c.field}`;
    (origins.get(key) ?? origins.set(key, []).get(key)!).push({ value: c.value, source: c.source, at: change.at });
    return change;
  };
  const answered = (change: Change) => () => {
    change.doneAt = Date.now();
  };
  const conflictFor = (source: Source, entity: Entity, field: string) => source !== 'api' && OWNER[`${entity}.${field}`] !== source;

  const makeChange = (i: number): Promise<void> | void => {
    const r = random();
    const source: Source = r < 0.4 ? 'api' : r < 0.65 ? 'hubspot' : r < 0.85 ? 'salesforce' : 'stripe';
    const k = random();
    const t = token();
    const phone = `+1 555 ${String(seq).padStart(7, '0')}`;
    if (source === 'api') {
      const at = Date.now();
      if (k < 0.7) {
        const c = pick(customers);
        const field = k < 0.3 ? 'name' : k < 0.5 ? 'email' : 'phone';
        const value = field === 'name' ? `Soak ${t}` : field === 'email' ? `${t}@soak.example` : phone;
        const change = record({ source, entity: 'Customer', row: c.row, field, value, token: field === 'phone' ? phone : t, conflict: false, at });
        return gql(`mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) { customer { id } } }`, { id: c.id, input: { [field]: value } }).then(answered(change));
      }
      const c = pick(contracts);
      if (k < 0.9) {
        const change = record({ source, entity: 'Contract', row: c.row, field: 'title', value: `Deal ${t}`, token: t, conflict: false, at });
        return gql(`mutation($id: ID!, $input: UpdateContractInput!) { updateContract(id: $id, input: $input) { contract { id } } }`, { id: c.id, input: { title: `Deal ${t}` } }).then(answered(change));
      }
      const status = pick(STATUSES);
      const change = record({ source, entity: 'Contract', row: c.row, field: 'status', value: status, token: null, conflict: false, at });
      return gql(`mutation($id: ID!, $input: UpdateContractInput!) { updateContract(id: $id, input: $input) { contract { id } } }`, { id: c.id, input: { status } }).then(answered(change));
    }
    if (source === 'hubspot') {
      if (k < 0.8) {
        const c = pick(customers);
        const id = hubspotContact(c.row);
        if (!id) return;
        const field = k < 0.45 ? 'name' : 'phone';
        const value = field === 'name' ? `Soak ${t}` : phone;
        record({ source, entity: 'Customer', row: c.row, field, value, token: field === 'name' ? t : phone, conflict: conflictFor(source, 'Customer', field) });
        sandbox.hubspot.handler.updateObject('contacts', id, field === 'name' ? { firstname: 'Soak', lastname: t } : { phone });
        return;
      }
      const c = pick(contracts);
      const status = pick(STATUSES);
      record({ source, entity: 'Contract', row: c.row, field: 'status', value: status, token: null, conflict: conflictFor(source, 'Contract', 'status') });
      sandbox.hubspot.handler.updateObject('deals', hubspotDeals.get(c.row)!, { dealstage: HUBSPOT_STAGE[status] });
      return;
    }
    if (source === 'salesforce') {
      if (k < 0.7) {
        const c = pick(contracts);
        record({ source, entity: 'Contract', row: c.row, field: 'title', value: `Deal ${t}`, token: t, conflict: conflictFor(source, 'Contract', 'title') });
        sandbox.salesforce.handler.userChange('Opportunity', { Name: `Deal ${t}` }, sfIds.Contract.get(c.row));
        return;
      }
      const c = pick(customers);
      // Salesforce owns neither: a conflict, which the owner's value then corrects.
      const field = k < 0.85 ? 'name' : 'phone';
      const value = field === 'name' ? `Soak ${t}` : phone;
      record({ source, entity: 'Customer', row: c.row, field, value, token: field === 'name' ? t : phone, conflict: conflictFor(source, 'Customer', field) });
      sandbox.salesforce.handler.userChange('Account', field === 'name' ? { Name: value } : { Phone: value }, sfIds.Customer.get(c.row));
      return;
    }
    const c = pick(customers);
    const field = k < 0.8 ? 'email' : 'name';
    const value = field === 'email' ? `${t}@soak.example` : `Soak ${t}`;
    record({ source, entity: 'Customer', row: c.row, field, value, token: t, conflict: conflictFor(source, 'Customer', field) });
    sandbox.stripe.handler.updateCustomer(stripeIds.get(c.row)!, { [field]: value });
  };

  const interval = 1000 / o.rate;
  for (let i = 0; i < o.changes; i++) {
    const due = started + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (i === Math.floor(o.changes * 0.3)) {
      // One 429 burst at two providers.
      sandbox.stripe.setFaults({ burst429: 20, retryAfterSeconds: 1 });
      sandbox.hubspot.setFaults({ burst429: 20, retryAfterSeconds: 1 });
      burstAt = Date.now();
      o.log(`change ${i}: 429 burst (20 requests each at Stripe and HubSpot)`);
    }
    if (o.killWorker && i === Math.floor(o.changes * 0.5)) {
      echoesOfKilled = await echoCounter([gw.workerUrl()]);
      await gw.killWorker();
      workerKilledAt = Date.now();
      o.log(`change ${i}: worker SIGKILLed; starting another`);
      // The replacement starts while the changes go on.
      const restart = gw.startWorker();
      inFlight.add(restart);
      void restart.finally(() => inFlight.delete(restart));
    }
    const p = makeChange(i);
    if (p) {
      const tracked = p.catch((err: Error) => void errors.push(err.message));
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      if (inFlight.size > 64) await Promise.race(inFlight);
    }
    if (i > 0 && i % Math.max(100, Math.round(o.rate * 10)) === 0) o.log(`${i} changes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  await Promise.all(inFlight);
  const finished = Date.now();
  const durationSeconds = (finished - started) / 1000;
  o.log(`${changes.length} changes in ${durationSeconds.toFixed(1)} s (${(changes.length / durationSeconds).toFixed(1)}/s); API errors: ${errors.length}`);
  if (errors.length) o.log(`first API error: ${errors[0]}`);

  // --- Settle: faults off (a person's edits stop too), then wait on state. ---
  for (const server of [sandbox.stripe, sandbox.hubspot, sandbox.salesforce, sandbox.crm]) server.setFaults({ errorRate: 0 });
  const settleStart = Date.now();
  await settle(sandbox, gw, o.settleTimeoutMs);
  const settleSeconds = (Date.now() - settleStart) / 1000;
  // The processes running now started after the kill, or were never killed: add what the killed one counted.
  const suppressedEchoes = (await echoCounter()) + echoesOfKilled - echoesBefore;

  // --- Compare every linked record at every provider with the canonical model. ---
  const state = Object.fromEntries(await Promise.all(TARGETS.map(async (t) => [t, await (await fetch(`${sandbox[t].url}/__sandbox/state`)).json()]))) as Record<Target, any>;
  const canonical = { Customer: [] as any[], Contract: [] as any[] };
  for (const [entity, field, selection] of [
    ['Customer', 'customers', 'id name email phone'],
    ['Contract', 'contracts', 'id title status value { amount currency }'],
  ] as const) {
    let after: string | null = null;
    for (;;) {
      const data: any = await gql(`query($after: String) { ${field}(first: 100, after: $after) { edges { node { ${selection} externalRefs { integrationId externalId } } } pageInfo { hasNextPage endCursor } } }`, { after });
      canonical[entity].push(...data[field].edges.map((e: any) => e.node));
      if (!data[field].pageInfo.hasNextPage) break;
      after = data[field].pageInfo.endCursor;
    }
  }
  const mismatches: string[] = [];
  let consistentRecords = 0;
  const providerView = (target: Target, entity: Entity, externalId: string): Record<string, string> | null => {
    if (entity === 'Customer') {
      if (target === 'stripe') {
        const c = state.stripe.customers[externalId];
        return c && { name: norm(c.name), email: norm(c.email), phone: norm(c.phone) };
      }
      if (target === 'hubspot') {
        const c = state.hubspot.contacts[externalId];
        return c && { name: `${norm(c.properties.firstname)} ${norm(c.properties.lastname)}`.trim(), email: norm(c.properties.email), phone: norm(c.properties.phone) };
      }
      if (target === 'salesforce') {
        const a = state.salesforce.accounts[externalId];
        return a && { name: norm(a.Name), phone: norm(a.Phone) };
      }
      const c = state.crm.clients[externalId];
      return c && { name: norm(c.displayName), email: norm(c.contact?.email), phone: norm(c.contact?.phone) };
    }
    if (target === 'hubspot') {
      const d = state.hubspot.deals[externalId];
      return d && { title: norm(d.properties.dealname), status: norm(d.properties.dealstage), value: amount(d.properties.amount) };
    }
    if (target === 'salesforce') {
      const d = state.salesforce.opportunities[externalId];
      return d && { title: norm(d.Name), status: norm(d.StageName), value: amount(d.Amount) };
    }
    if (target === 'crm') {
      const d = state.crm.deals[externalId];
      return d && { title: norm(d.title), status: norm(d.stage), value: amount(d.value?.amount) };
    }
    return null;
  };
  for (const entity of ['Customer', 'Contract'] as const) {
    for (const node of canonical[entity]) {
      const row = rowOf(node.id);
      const want: Record<string, string> = entity === 'Customer' ? { name: norm(node.name), email: norm(node.email), phone: norm(node.phone) } : { title: norm(node.title), status: node.status, value: amount(node.value?.amount) };
      let equal = true;
      for (const target of TARGETS) {
        const fields = CARRIED[target][entity];
        if (!fields) continue;
        const ref = node.externalRefs.find((r: any) => integrationRow[rowOf(r.integrationId)] === target);
        const view = ref ? providerView(target, entity, ref.externalId) : null;
        if (!view) {
          equal = false;
          mismatches.push(`${entity} ${row}: no linked record at ${target}`);
          continue;
        }
        for (const f of fields) {
          const expected = atTarget(target, entity, f, want[f]);
          if (norm(view[f]).toLowerCase() !== expected.toLowerCase()) {
            equal = false;
            mismatches.push(`${entity} ${row} ${f}: canonical ${JSON.stringify(expected)}, ${target} ${JSON.stringify(view[f])}`);
          }
        }
      }
      if (equal) consistentRecords++;
    }
  }
  const records = canonical.Customer.length + canonical.Contract.length;

  // --- Latency per change and route, and echo calls, from the fakes' request logs. ---
  const writes = Object.fromEntries(TARGETS.map((t) => [t, writesOf(t, sandbox[t].requests.slice(requestMark[t]))])) as Record<Target, Write[]>;
  const latencies: Array<{ route: string; ms: number; at: number }> = [];
  const arrivals = { measured: 0, superseded: 0, unorderable: 0, missing: 0 };
  const stripeSecond = (at: number) => Math.floor(at / 1000);
  const unorderable = (c: Change) =>
    c.source === 'stripe' && byField.get(`${c.entity}:${c.row}:${c.field}`)!.some((x) => x !== c && x.source === 'stripe' && stripeSecond(x.at) === stripeSecond(c.at));
  // Overtaken: another change of the same field that was not over before this one started (an
  // API change is in flight from its request to its answer; it committed somewhere in between).
  const byField = new Map<string, Change[]>();
  for (const c of changes) {
    const key = `${c.entity}:${c.row}:${c.field}`;
    (byField.get(key) ?? byField.set(key, []).get(key)!).push(c);
  }
  const overtaken = (c: Change) => byField.get(`${c.entity}:${c.row}:${c.field}`)!.some((x) => x !== c && (x.doneAt ?? x.at) >= c.at);
  const byRecord = new Map<string, Write[]>();
  for (const t of TARGETS) for (const w of writes[t]) {
    const key = `${t}:${w.entity}:${w.row}`;
    (byRecord.get(key) ?? byRecord.set(key, []).get(key)!).push(w);
  }
  /** SOAK_TRACE: one record's changes, writes everywhere, jobs, and the webhook events about it, on one clock. */
  const traceRecord = async (title: string, entity: Entity, row: string) => {
    const ms = (d: unknown) => (d ? new Date(d as string).getTime() - started : '-');
    o.log(title);
    for (const c of changes.filter((c) => c.row === row)) o.log(`  change ${c.at - started} ${c.source} ${c.field}=${c.value}${c.conflict ? ' (conflict)' : ''}`);
    for (const t of TARGETS) for (const w of byRecord.get(`${t}:${entity}:${row}`) ?? []) o.log(`  write ${w.at - started}..${(w.answeredAt ?? 0) - started} ${t} ok=${w.ok} ${JSON.stringify(w.fields)}`);
    const jobs = await gw.sql(
      `SELECT j.created_at, j.completed_at, j.status, j.attempts, j.source, i.provider, si.provider AS cause, j.payload->>'verifyFirst' AS verify, j.payload->>'name' AS name, j.payload->>'phone' AS phone, j.payload->>'email' AS email, j.payload->>'title' AS title, j.payload->>'status' AS st
         FROM integration_job j JOIN integration i ON i.id = j.integration_id LEFT JOIN integration si ON si.id = j.source_integration_id WHERE entity_id = $1 ORDER BY j.created_at`,
      [row],
    );
    for (const j of jobs as any[]) o.log(`  job ${ms(j.created_at)}..${ms(j.completed_at)} ${j.provider} ${j.status} x${j.attempts} ${j.source} ${j.cause ?? ''}${j.verify ? ' verifyFirst' : ''} ${entity === 'Customer' ? `${j.name} ${j.email} ${j.phone}` : `${j.title} ${j.st}`}`);
    const events = await gw.sql(
      `SELECT e.received_at, e.processed_at, e.occurred_at, e.status, e.event_type, i.provider, e.body FROM webhook_event e JOIN integration i ON i.id = e.integration_id
        WHERE e.integration_id IN (SELECT integration_id FROM external_ref WHERE entity_id = $1) AND EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_id = $1 AND r.integration_id = e.integration_id AND strpos(e.body, r.external_id) > 0)
        ORDER BY e.received_at`,
      [row],
    );
    for (const e of events as any[]) {
      let what = '';
      try {
        const b = JSON.parse(e.body);
        what = b.data?.object ? `email=${b.data.object.email} name=${b.data.object.name} prev=${JSON.stringify(b.data.previous_attributes ?? {})}` : JSON.stringify(b).slice(0, 160);
      } catch {
        what = String(e.body).replace(/\s+/g, ' ').slice(0, 160);
      }
      o.log(`  event ${e.provider} ${e.event_type} at ${ms(e.occurred_at)} received ${ms(e.received_at)} processed ${ms(e.processed_at)} ${e.status} ${what}`);
    }
  };
  for (const c of changes) {
    if (c.conflict || c.token === null) continue;
    for (const target of TARGETS) {
      if (target === c.source || !CARRIED[target][c.entity]?.includes(c.field)) continue;
      const expected = atTarget(target, c.entity, c.field, c.value);
      const hit = (byRecord.get(`${target}:${c.entity}:${c.row}`) ?? []).find((w) => w.ok && w.answeredAt !== null && w.answeredAt >= c.at && w.fields[c.field]?.toLowerCase() === expected.toLowerCase());
      if (hit) {
        arrivals.measured++;
        latencies.push({ route: `${c.source} -> ${target}`, ms: hit.answeredAt! - c.at, at: (c.at - started) / 1000 });
      } else if (overtaken(c)) arrivals.superseded++;
      else if (unorderable(c)) arrivals.unorderable++;
      else {
        arrivals.missing++;
        if (process.env.SOAK_TRACE && arrivals.missing <= 2) await traceRecord(`MISSING ${c.source} ${c.entity} ${c.row} ${c.field}=${c.value} at ${c.at - started} -> ${target}`, c.entity, c.row);
      }
    }
  }
  if (process.env.SOAK_TRACE) {
    for (const m of mismatches.slice(0, 3)) {
      const [entity, row] = m.split(' ');
      await traceRecord(`TRACE ${m}`, entity as Entity, row);
    }
  }
  const outsideKill = (l: { at: number }) => workerKilledAt === null || l.at < (workerKilledAt - started) / 1000 - 5 || l.at > (workerKilledAt - started) / 1000 + 25;
  const outsideBurst = (l: { at: number }) => burstAt === null || l.at < (burstAt - started) / 1000 - 1 || l.at > (burstAt - started) / 1000 + 10;
  const routes = [...new Set(latencies.map((l) => l.route))].sort().map((route) => summarise(route, latencies.filter((l) => l.route === route).map((l) => l.ms)));

  // An echo call: a write that changes nothing at the provider, because what it carries is what
  // the provider's own change (made since the gateway's previous write there) set: the provider is
  // sent back its own change (unless the write restores the provider's earlier change of that
  // value, which the previous write overwrote: a repair, ADR 0017). What the provider held per field just before the write: its own
  // latest change since the previous write, else that write's value. A value another source also
  // set in between (a status both set) came from there, not back from the provider.
  let echoCalls = 0;
  const echoExamples: string[] = [];
  for (const [key, list] of byRecord) {
    const [target, entity, row] = key.split(':') as [Target, Entity, string];
    for (let i = 1; i < list.length; i++) {
      const w = list[i];
      // The write before it that the provider carried out (one answered with an error changed nothing).
      const prev = list.slice(0, i).findLast((x) => x.ok);
      if (!prev) continue;
      let ownBack = 0;
      const changesSomething = Object.keys(w.fields).some((f) => {
        const set = (origins.get(`${entity}:${row}:${f}`) ?? []).filter((o) => o.at > prev.at && o.at < w.at);
        const own = set.filter((o) => o.source === target).at(-1);
        const heldValue = own ? atTarget(target, entity, f, own.value) : prev.fields[f];
        if (heldValue.toLowerCase() !== w.fields[f].toLowerCase()) return true;
        // A repair is not an echo: the provider's own latest change before the previous write set
        // this value, that write (enqueued before the change was applied) overwrote it, and
        // nobody else changed the field since; the provider setting the same value again while
        // the repair was under way makes it land on an equal value (statuses repeat).
        const history = origins.get(`${entity}:${row}:${f}`) ?? [];
        const lost = history.filter((o) => o.source === target && o.at < prev.at).at(-1);
        const restores =
          !!lost &&
          atTarget(target, entity, f, lost.value).toLowerCase() === w.fields[f].toLowerCase() &&
          prev.fields[f].toLowerCase() !== w.fields[f].toLowerCase() &&
          !history.some((o) => o.source !== target && o.at > lost.at && o.at < w.at);
        if (own && !restores && heldValue.toLowerCase() !== prev.fields[f].toLowerCase() && !set.some((o) => o.source !== target && o.value === own.value)) ownBack++;
        return false;
      });
      const held = !changesSomething && ownBack > 0;
      const diff = Object.keys(w.fields).filter((f) => w.fields[f] !== prev.fields[f]);
      if (held) {
        echoCalls++;
        if (echoExamples.length < 5) echoExamples.push(`${target} ${entity} ${row}: ${diff.map((f) => `${f}=${list[i].fields[f]}`).join(', ')}`);
        if (process.env.SOAK_TRACE && echoCalls <= 3) {
          o.log(`ECHO ${target} ${entity} ${row} write #${i} at ${list[i].at - started}`);
          for (const x of changes.filter((x) => x.row === row)) o.log(`  change ${x.at - started} ${x.source} ${x.field}=${x.value}${x.conflict ? ' (conflict)' : ''}`);
          for (const w of list) o.log(`  write ${w.at - started}..${(w.answeredAt ?? 0) - started} ok=${w.ok} ${JSON.stringify(w.fields)}`);
          const jobs = await gw.sql(`SELECT j.created_at, j.updated_at, j.status, j.attempts, j.source, i.provider, si.provider AS cause FROM integration_job j JOIN integration i ON i.id = j.integration_id LEFT JOIN integration si ON si.id = j.source_integration_id WHERE entity_id = $1 ORDER BY j.created_at`, [row]);
          for (const j of jobs as any[]) o.log(`  job ${new Date(j.created_at).getTime() - started}..${new Date(j.updated_at).getTime() - started} ${j.provider} ${j.status} x${j.attempts} ${j.source} ${j.cause ?? ''}`);
        }
      }
    }
  }

  const jobRows = await gw.sql<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM integration_job WHERE created_at >= $1 GROUP BY status`, [new Date(started)]);
  const byStatus = Object.fromEntries(jobRows.map((r) => [r.status, r.n]));
  const total = jobRows.reduce((s, r) => s + r.n, 0);
  const [events] = await gw.sql<{ total: number; failed: number }>(`SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'FAILED')::int AS failed FROM webhook_event WHERE received_at >= $1`, [new Date(started)]);
  const contactsPerCustomer = new Map<string, number>();
  for (const c of Object.values(state.hubspot.contacts) as any[]) contactsPerCustomer.set(c.properties.switchboard_id, (contactsPerCustomer.get(c.properties.switchboard_id) ?? 0) + 1);

  const changesBySource: Record<string, number> = {};
  for (const c of changes) changesBySource[c.source] = (changesBySource[c.source] ?? 0) + 1;
  const { log: _log, ...options } = o;
  return {
    options,
    durationSeconds,
    achievedRate: changes.length / durationSeconds,
    changesBySource,
    conflicts: changes.filter((c) => c.conflict).length,
    records,
    consistentRecords,
    consistency: records ? consistentRecords / records : 0,
    mismatches: mismatches.slice(0, 20),
    latency: { all: summarise('all routes', latencies.map((l) => l.ms)), routes },
    steadyLatency: summarise('all routes, steady', latencies.filter(outsideKill).map((l) => l.ms)),
    calmLatency: summarise('all routes, calm', latencies.filter((l) => outsideKill(l) && outsideBurst(l)).map((l) => l.ms)),
    burstAt: burstAt === null ? null : (burstAt - started) / 1000,
    arrivals,
    jobs: { total, failed: byStatus.FAILED ?? 0, byStatus },
    errorRate: total ? (byStatus.FAILED ?? 0) / total : 0,
    suppressedEchoes,
    echoCalls,
    echoExamples,
    webhookEvents: {
      total: events.total,
      failed: events.failed,
      duplicatesAtFakes: 0,
    },
    duplicateContactsAtHubspot: [...contactsPerCustomer.values()].reduce((s, n) => s + n - 1, 0),
    settleSeconds,
    workerKilledAt: workerKilledAt === null ? null : (workerKilledAt - started) / 1000,
    latencies,
  };
}

/**
 * Waits on state, not time: no job pending, processing or retrying; no webhook event waiting;
 * no fake with a webhook still to send; and nothing new for a few looks in a row.
 */
export async function settle(sandbox: Sandbox, gw: SoakGateway, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let last = '';
  for (;;) {
    const [row] = await gw.sql<{ jobs: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM integration_job WHERE status IN ('PENDING', 'PROCESSING', 'RETRYING')) AS jobs,
              (SELECT count(*)::int FROM webhook_event WHERE status = 'RECEIVED') AS events`,
    );
    const fakes = sandbox.stripe.handler.webhooks.inFlight + sandbox.hubspot.handler.webhooks.inFlight + sandbox.salesforce.handler.outboundInFlight;
    const seen = `${sandbox.servers.map((s) => s.requests.length).join(',')}|${sandbox.stripe.handler.deliveries.length},${sandbox.hubspot.handler.deliveries.length},${sandbox.salesforce.handler.deliveries.length}`;
    if (row.jobs === 0 && row.events === 0 && fakes === 0 && seen === last) quiet++;
    else quiet = 0;
    last = seen;
    if (quiet >= 5) return;
    if (Date.now() > deadline) throw new Error(`not settled within ${timeoutMs} ms: ${row.jobs} jobs and ${row.events} webhook events open, ${fakes} webhooks at the fakes`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
