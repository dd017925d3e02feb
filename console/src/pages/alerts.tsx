import { useState } from 'react';
import { useMutation, useQuery, useSubscription } from '../api';
import {
  ConsoleAlertsDocument,
  ConsoleAlertUpdatedDocument,
  ConsoleCreateAlertRuleDocument,
  ConsoleDeleteAlertRuleDocument,
  ConsoleUpdateAlertRuleDocument,
  type AlertKind,
  type ConsoleAlertFragment,
} from '../generated/graphql';
import { Badge, ConfirmButton, ErrorLine, fmtTime, Page } from '../ui';
import { blankToUndefined, IntegrationSelect } from './shared';

const KINDS: AlertKind[] = ['FAILURE_RATE', 'QUEUE_LAG', 'CIRCUIT_OPEN', 'WEBHOOK_FAILURES', 'SYNC_FAILED'];
const THRESHOLD_HINT: Record<AlertKind, string> = {
  FAILURE_RATE: 'share of failed calls, 0 to 1',
  QUEUE_LAG: 'seconds the oldest job waits',
  CIRCUIT_OPEN: '1: any open circuit',
  WEBHOOK_FAILURES: 'failed webhooks in the window',
  SYNC_FAILED: 'failed sync runs in the window',
};

function RuleForm({ onSaved }: { onSaved: () => void }) {
  const create = useMutation(ConsoleCreateAlertRuleDocument);
  const [form, setForm] = useState({ name: '', kind: 'FAILURE_RATE' as AlertKind, integrationId: '', threshold: '0.5', windowSeconds: '300', notifyIntegrationId: '', notifyEmail: '' });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <details className="card">
      <summary>New rule</summary>
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await create.run({
            input: {
              name: form.name,
              kind: form.kind,
              integrationId: blankToUndefined(form.integrationId),
              threshold: Number(form.threshold),
              windowSeconds: Number(form.windowSeconds),
              notifyIntegrationId: blankToUndefined(form.notifyIntegrationId),
              notifyEmail: blankToUndefined(form.notifyEmail),
            },
          });
          if (r) {
            setForm((f) => ({ ...f, name: '' }));
            onSaved();
          }
        }}
      >
        <label>
          Name
          <input required value={form.name} onChange={set('name')} />
        </label>
        <label>
          Kind
          <select value={form.kind} onChange={set('kind')}>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Integration
          <IntegrationSelect id="a-integration" value={form.integrationId} onChange={(v) => setForm((f) => ({ ...f, integrationId: v }))} />
        </label>
        <label>
          Threshold ({THRESHOLD_HINT[form.kind]})
          <input required type="number" step="any" min={0} value={form.threshold} onChange={set('threshold')} />
        </label>
        <label>
          Window (seconds)
          <input type="number" min={1} value={form.windowSeconds} onChange={set('windowSeconds')} />
        </label>
        <label>
          Notify through (a SENDGRID integration)
          <IntegrationSelect id="a-notify" value={form.notifyIntegrationId} onChange={(v) => setForm((f) => ({ ...f, notifyIntegrationId: v }))} />
        </label>
        <label>
          Notify email
          <input type="email" value={form.notifyEmail} onChange={set('notifyEmail')} />
        </label>
        <ErrorLine error={create.error} />
        <button type="submit" disabled={create.pending}>
          Create rule
        </button>
      </form>
    </details>
  );
}

export default function AlertsPage() {
  const [status, setStatus] = useState<'' | 'FIRING' | 'RESOLVED'>('');
  const data = useQuery(ConsoleAlertsDocument, { first: 100, filter: status ? { status } : null });
  const update = useMutation(ConsoleUpdateAlertRuleDocument);
  const remove = useMutation(ConsoleDeleteAlertRuleDocument);

  // Live: a fired or resolved alert replaces its row or joins the top.
  useSubscription(ConsoleAlertUpdatedDocument, {}, ({ alertUpdated: alert }) => {
    data.setData((d) => {
      const edges = d.alerts.edges.filter((e) => e.node.id !== alert.id);
      const keep = !status || alert.status === status;
      return {
        ...d,
        alertRules: d.alertRules.map((r) => (r.id === alert.rule.id ? { ...r, firing: alert.status === 'FIRING' ? { id: alert.id } : null } : r)),
        alerts: { ...d.alerts, edges: keep ? [{ node: alert }, ...edges] : edges },
      };
    });
  });

  const alerts: ConsoleAlertFragment[] = data.data?.alerts.edges.map((e) => e.node) ?? [];
  return (
    <Page title="Alerts">
      <h2>Alerts</h2>
      <form className="filters" aria-label="Alert filter" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="">Any</option>
            <option>FIRING</option>
            <option>RESOLVED</option>
          </select>
        </label>
      </form>
      <ErrorLine error={data.error ?? update.error ?? remove.error} />
      <div className="table-wrap">
        <table aria-label="Alerts">
          <thead>
            <tr>
              <th>Fired</th>
              <th>Rule</th>
              <th>Kind</th>
              <th>Status</th>
              <th>Value</th>
              <th>Resolved</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((a) => (
              <tr key={a.id} data-alert-id={a.id} data-rule-id={a.rule.id}>
                <td>{fmtTime(a.firedAt)}</td>
                <td>{a.rule.name}</td>
                <td>{a.rule.kind}</td>
                <td>
                  <Badge value={a.status} />
                </td>
                <td>{a.value.toFixed(2)}</td>
                <td>{fmtTime(a.resolvedAt)}</td>
                <td className="clip">{a.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Rules</h2>
      <RuleForm onSaved={data.reload} />
      <div className="table-wrap">
        <table aria-label="Alert rules">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Threshold</th>
              <th>Window</th>
              <th>Last value</th>
              <th>State</th>
              <th>Enabled</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.data?.alertRules.map((r) => (
              <tr key={r.id}>
                <td>{r.name}</td>
                <td>{r.kind}</td>
                <td>
                  {r.threshold} (resolves below {r.resolveThreshold})
                </td>
                <td>{r.windowSeconds} s</td>
                <td>{r.lastValue?.toFixed(2) ?? '—'}</td>
                <td>
                  <Badge value={r.firing ? 'FIRING' : 'OK'} />
                </td>
                <td>
                  <button type="button" aria-pressed={r.enabled} onClick={() => void update.run({ id: r.id, input: { enabled: !r.enabled } }).then(data.reload)}>
                    {r.enabled ? 'Enabled' : 'Disabled'}
                  </button>
                </td>
                <td>
                  <ConfirmButton label="Delete…" question={`Delete rule ${r.name} and its alerts?`} onConfirm={() => void remove.run({ id: r.id }).then(data.reload)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
