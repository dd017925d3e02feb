import { useState } from 'react';
import { useMutation, useQuery } from '../api';
import {
  ConsoleCreateIntegrationDocument,
  ConsoleIntegrationsDocument,
  ConsolePauseIntegrationDocument,
  ConsoleResumeIntegrationDocument,
  ConsoleRotateSecretDocument,
  ConsoleUpdateIntegrationDocument,
  type ConsoleIntegrationFragment,
  type Provider,
} from '../generated/graphql';
import { Badge, ErrorLine, fmtTime, Page } from '../ui';

const PROVIDERS: Provider[] = ['STRIPE', 'HUBSPOT', 'SENDGRID', 'SALESFORCE', 'GENERIC'];

/** JSON text from a textarea, or an error message. */
function parseJson(text: string): { value?: unknown; error?: string } {
  if (!text.trim()) return {};
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: `Not valid JSON: ${(err as Error).message}` };
  }
}

function CreateForm({ onCreated }: { onCreated: () => void }) {
  const create = useMutation(ConsoleCreateIntegrationDocument);
  const [form, setForm] = useState({ provider: 'STRIPE' as Provider, name: '', baseUrl: '', credentials: '', webhookSecret: '', settings: '' });
  const [invalid, setInvalid] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <details className="card">
      <summary>New integration</summary>
      <form
        className="stack"
        autoComplete="off"
        aria-label="New integration"
        onSubmit={async (e) => {
          e.preventDefault();
          const credentials = parseJson(form.credentials);
          const settings = parseJson(form.settings);
          setInvalid(credentials.error ?? settings.error ?? null);
          if (credentials.error || settings.error) return;
          const r = await create.run({
            input: {
              provider: form.provider,
              name: form.name,
              baseUrl: form.baseUrl,
              credentials: credentials.value,
              settings: settings.value,
              webhookSecret: form.webhookSecret || undefined,
            },
          });
          if (r) {
            setForm((f) => ({ ...f, name: '', baseUrl: '', credentials: '', webhookSecret: '', settings: '' }));
            onCreated();
          }
        }}
      >
        <label>
          Provider
          <select value={form.provider} onChange={set('provider')}>
            {PROVIDERS.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input required value={form.name} onChange={set('name')} />
        </label>
        <label>
          Base URL
          <input required value={form.baseUrl} onChange={set('baseUrl')} placeholder="https://api.stripe.com" />
        </label>
        <label>
          Credentials (JSON, write-only)
          <textarea value={form.credentials} onChange={set('credentials')} placeholder='{"apiKey": "sk_..."}' rows={2} />
        </label>
        <label>
          Webhook secret (write-only)
          <input type="password" value={form.webhookSecret} onChange={set('webhookSecret')} />
        </label>
        <label>
          Settings (JSON)
          <textarea value={form.settings} onChange={set('settings')} placeholder='{"maxAttempts": 8}' rows={2} />
        </label>
        <ErrorLine error={invalid ?? create.error} />
        <button type="submit" disabled={create.pending}>
          Create
        </button>
      </form>
    </details>
  );
}

function IntegrationCard({ integration: i, onChanged }: { integration: ConsoleIntegrationFragment; onChanged: () => void }) {
  const pause = useMutation(ConsolePauseIntegrationDocument);
  const resume = useMutation(ConsoleResumeIntegrationDocument);
  const rotate = useMutation(ConsoleRotateSecretDocument);
  const update = useMutation(ConsoleUpdateIntegrationDocument);
  const [secret, setSecret] = useState('');
  const [grace, setGrace] = useState('86400');
  const [settings, setSettings] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  return (
    <article className="card" aria-labelledby={`int-${i.id}`} data-integration-id={i.id}>
      <header className="card-head">
        <h2 id={`int-${i.id}`}>{i.name}</h2>
        <span>
          {i.provider} <Badge value={i.status} /> <Badge value={i.circuit} />
        </span>
      </header>
      <dl className="facts">
        <dt>Base URL</dt>
        <dd className="mono clip">{i.baseUrl}</dd>
        <dt>Webhook URL</dt>
        <dd className="mono clip">{i.webhookUrl}</dd>
        <dt>Credentials</dt>
        <dd>{i.hasCredentials ? 'stored' : 'none'}</dd>
        <dt>Webhook secret</dt>
        <dd>{i.hasWebhookSecret ? 'stored' : 'none'}</dd>
        <dt>Created</dt>
        <dd>{fmtTime(i.createdAt)}</dd>
      </dl>
      <div className="actions">
        {i.status === 'PAUSED' ? (
          <button type="button" disabled={resume.pending} onClick={() => void resume.run({ id: i.id }).then(onChanged)}>
            Resume
          </button>
        ) : (
          <button type="button" disabled={pause.pending || i.status !== 'ACTIVE'} onClick={() => void pause.run({ id: i.id }).then(onChanged)}>
            Pause
          </button>
        )}
      </div>
      <details>
        <summary>Rotate webhook secret</summary>
        <form
          className="stack"
          autoComplete="off"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await rotate.run({ id: i.id, webhookSecret: secret, graceSeconds: Number(grace) });
            if (r) {
              setSecret('');
              setNotice(`Secret rotated; the previous one keeps verifying for ${grace} s.`);
              onChanged();
            }
          }}
        >
          <label>
            New secret
            <input type="password" required value={secret} onChange={(e) => setSecret(e.target.value)} />
          </label>
          <label>
            Grace (seconds the previous secret still verifies)
            <input type="number" min={0} value={grace} onChange={(e) => setGrace(e.target.value)} />
          </label>
          <button type="submit" disabled={rotate.pending}>
            Rotate
          </button>
        </form>
      </details>
      <details>
        <summary>Settings</summary>
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            const parsed = parseJson(settings);
            setInvalid(parsed.error ?? null);
            if (parsed.error || parsed.value === undefined) return;
            const r = await update.run({ id: i.id, input: { settings: parsed.value } });
            if (r) setNotice('Settings saved.');
          }}
        >
          <label>
            Settings to set (JSON: timeoutMs, maxAttempts, retryBaseDelayMs, retryMaxDelayMs, requestsPerSecond, concurrency, pollIntervalSeconds)
            <textarea rows={3} value={settings} onChange={(e) => setSettings(e.target.value)} placeholder='{"requestsPerSecond": 20}' />
          </label>
          <button type="submit" disabled={update.pending}>
            Save settings
          </button>
        </form>
      </details>
      <ErrorLine error={invalid ?? pause.error ?? resume.error ?? rotate.error ?? update.error} />
      {notice && <p role="status">{notice}</p>}
    </article>
  );
}

export default function IntegrationsPage() {
  const list = useQuery(ConsoleIntegrationsDocument, {});
  return (
    <Page title="Integrations">
      <CreateForm onCreated={list.reload} />
      <ErrorLine error={list.error} />
      <div className="cards">
        {list.data?.integrations.edges.map(({ node }) => (
          <IntegrationCard key={node.id} integration={node} onChanged={list.reload} />
        ))}
      </div>
    </Page>
  );
}
