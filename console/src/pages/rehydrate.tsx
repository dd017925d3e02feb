import { useState } from 'react';
import { useMutation } from '../api';
import { ConsoleRehydrateDocument, type ConsoleRehydrateMutation } from '../generated/graphql';
import { Badge, ErrorLine, Page } from '../ui';
import { IntegrationSelect } from './shared';

const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export default function RehydratePage() {
  const rehydrate = useMutation(ConsoleRehydrateDocument);
  const [form, setForm] = useState({ entityId: '', integrationId: '' });
  const [result, setResult] = useState<{ dryRun: boolean; data: ConsoleRehydrateMutation['rehydrate'] } | null>(null);
  const run = async (dryRun: boolean) => {
    const r = await rehydrate.run({ ...form, dryRun });
    if (r) setResult({ dryRun, data: r.rehydrate });
  };
  const applicable = result?.dryRun ? result.data.changes.filter((c) => c.applies).length : 0;
  return (
    <Page title="Rehydrate">
      <p>Read a record from the provider now, see what would change, then apply it.</p>
      <form
        className="filters"
        aria-label="Rehydrate a record"
        onSubmit={(e) => {
          e.preventDefault();
          void run(true);
        }}
      >
        <label>
          Record id (customer, contract or invoice)
          <input required value={form.entityId} onChange={(e) => setForm((f) => ({ ...f, entityId: e.target.value.trim() }))} />
        </label>
        <label>
          Integration
          <IntegrationSelect id="r-integration" allowAll={false} value={form.integrationId} onChange={(v) => setForm((f) => ({ ...f, integrationId: v }))} />
        </label>
        <button type="submit" disabled={!form.entityId || !form.integrationId || rehydrate.pending}>
          Dry run
        </button>
      </form>
      <ErrorLine error={rehydrate.error} />
      {result && (
        <>
          <h2>{result.dryRun ? 'What would change' : result.data.applied ? 'Applied' : 'Nothing applied'}</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Field</th>
                  <th>Current</th>
                  <th>Incoming</th>
                  <th>Applies</th>
                  <th>Why not</th>
                </tr>
              </thead>
              <tbody>
                {result.data.changes.map((c) => (
                  <tr key={c.field}>
                    <td>{c.field}</td>
                    <td className="clip">{show(c.current)}</td>
                    <td className="clip">{show(c.incoming)}</td>
                    <td>
                      <Badge value={c.applies ? 'YES' : 'NO'} />
                    </td>
                    <td className="wrap">{c.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {result.dryRun && (
            <button type="button" className="danger" disabled={!applicable || rehydrate.pending} onClick={() => void run(false)}>
              Apply {applicable} change{applicable === 1 ? '' : 's'}
            </button>
          )}
        </>
      )}
    </Page>
  );
}
