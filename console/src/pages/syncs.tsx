import { useState } from 'react';
import { useMutation, useQuery, useSubscription } from '../api';
import { ConsoleCancelSyncDocument, ConsoleStartSyncDocument, ConsoleSyncRunsDocument, ConsoleSyncRunUpdatedDocument, type SyncMode } from '../generated/graphql';
import { Badge, ConfirmButton, ErrorLine, fmtTime, Page } from '../ui';
import { IntegrationSelect, useIntegrations } from './shared';

/** The resources each provider syncs (docs/sync.md). */
const RESOURCES: Record<string, string[]> = {
  STRIPE: ['customers', 'invoices'],
  HUBSPOT: ['contacts', 'deals'],
  SALESFORCE: ['accounts', 'opportunities'],
};

export default function SyncsPage() {
  const runs = useQuery(ConsoleSyncRunsDocument, { first: 100 });
  const integrations = useIntegrations();
  const start = useMutation(ConsoleStartSyncDocument);
  const cancel = useMutation(ConsoleCancelSyncDocument);
  const [form, setForm] = useState({ integrationId: '', resource: '', mode: 'INCREMENTAL' as SyncMode });
  const provider = integrations.find((i) => i.id === form.integrationId)?.provider ?? '';

  useSubscription(ConsoleSyncRunUpdatedDocument, { filter: null }, ({ syncRunUpdated: run }) =>
    runs.setData((d) => {
      const edges = d.syncRuns.edges;
      const at = edges.findIndex((e) => e.node.id === run.id);
      const next = at >= 0 ? edges.map((e, i) => (i === at ? { node: run } : e)) : [...edges, { node: run }];
      return { ...d, syncRuns: { ...d.syncRuns, edges: next } };
    }),
  );

  const rows = [...(runs.data?.syncRuns.edges ?? [])].reverse().map((e) => e.node);
  return (
    <Page title="Sync runs">
      <form
        className="filters"
        aria-label="Start a sync run"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await start.run(form);
          if (r) runs.reload();
        }}
      >
        <label>
          Integration
          <IntegrationSelect id="s-integration" allowAll={false} value={form.integrationId} onChange={(v) => setForm((f) => ({ ...f, integrationId: v, resource: '' }))} />
        </label>
        <label>
          Resource
          <select value={form.resource} onChange={(e) => setForm((f) => ({ ...f, resource: e.target.value }))}>
            <option value="">Choose…</option>
            {(RESOURCES[provider] ?? []).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Mode
          <select value={form.mode} onChange={(e) => setForm((f) => ({ ...f, mode: e.target.value as SyncMode }))}>
            <option>INCREMENTAL</option>
            <option>FULL</option>
          </select>
        </label>
        <button type="submit" disabled={!form.integrationId || !form.resource || start.pending}>
          Start sync
        </button>
      </form>
      <ErrorLine error={runs.error ?? start.error ?? cancel.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Queued</th>
              <th>Integration</th>
              <th>Resource</th>
              <th>Mode</th>
              <th>Status</th>
              <th>Pages</th>
              <th>Seen</th>
              <th>Changed</th>
              <th>Deleted</th>
              <th>Finished</th>
              <th>Error / note</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>{fmtTime(r.queuedAt)}</td>
                <td>{r.integration.name}</td>
                <td>{r.resource}</td>
                <td>{r.mode}</td>
                <td>
                  <Badge value={r.status} />
                </td>
                <td>{r.pages}</td>
                <td>{r.recordsSeen}</td>
                <td>{r.recordsChanged}</td>
                <td>{r.recordsDeleted}</td>
                <td>{fmtTime(r.finishedAt)}</td>
                <td className="clip">{r.error ?? r.note ?? ''}</td>
                <td>
                  {['QUEUED', 'RUNNING'].includes(r.status) && (
                    <ConfirmButton label="Cancel…" question="Cancel this run?" onConfirm={() => void cancel.run({ id: r.id })} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
