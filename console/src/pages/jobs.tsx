import { useState } from 'react';
import { request, useMutation, useQuery, useSubscription } from '../api';
import {
  ConsoleCancelJobDocument,
  ConsoleJobDocument,
  ConsoleJobsDocument,
  ConsoleJobUpdatedDocument,
  ConsoleReplayFailedDocument,
  ConsoleRetryJobDocument,
  type ConsoleJobFragment,
  type IntegrationJobFilter,
  type JobStatus,
} from '../generated/graphql';
import { Link, useLocation } from '../router';
import { Badge, ConfirmButton, ErrorLine, fmtTime, Page } from '../ui';
import { blankToUndefined, IntegrationSelect, isoOrUndefined } from './shared';

const STATUSES: JobStatus[] = ['PENDING', 'PROCESSING', 'RETRYING', 'COMPLETED', 'FAILED', 'CANCELLED'];

function matches(job: ConsoleJobFragment, f: IntegrationJobFilter): boolean {
  return (
    (!f.integrationId || job.integration.id === f.integrationId) &&
    (!f.status || job.status === f.status) &&
    (!f.operation || job.operation === f.operation) &&
    (!f.entityId || job.entityId === f.entityId) &&
    (!f.correlationId || job.correlationId === f.correlationId) &&
    (!f.createdAfter || job.createdAt >= f.createdAfter) &&
    (!f.createdBefore || job.createdAt <= f.createdBefore)
  );
}

function JobList() {
  const { search } = useLocation();
  const linked = search.get('integrationId') ?? '';
  const [form, setForm] = useState({ integrationId: linked, status: '', operation: '', entityId: '', correlationId: '', after: '', before: '' });
  const [filter, setFilter] = useState<IntegrationJobFilter>({ integrationId: linked || undefined, createdAfter: new Date(Date.now() - 3600_000).toISOString() });
  const jobs = useQuery(ConsoleJobsDocument, { first: 100, filter });
  const replay = useMutation(ConsoleReplayFailedDocument);
  const [notice, setNotice] = useState<string | null>(null);

  // Live: a change to a listed job updates its row; a new job that matches the filter is added on top.
  useSubscription(ConsoleJobUpdatedDocument, { filter: filter.integrationId ? { integrationId: filter.integrationId } : null }, ({ integrationJobUpdated: job }) => {
    jobs.setData((d) => {
      const edges = d.integrationJobs.edges;
      const at = edges.findIndex((e) => e.node.id === job.id);
      if (at >= 0) {
        if (!matches(job, { ...filter, createdAfter: undefined })) return { ...d, integrationJobs: { ...d.integrationJobs, edges: edges.filter((_, i) => i !== at) } };
        const next = edges.slice();
        next[at] = { node: job };
        return { ...d, integrationJobs: { ...d.integrationJobs, edges: next } };
      }
      if (!matches(job, filter)) return d;
      return { ...d, integrationJobs: { ...d.integrationJobs, totalCount: d.integrationJobs.totalCount + 1, edges: [...edges, { node: job }] } };
    });
  });

  const apply = (e: React.FormEvent) => {
    e.preventDefault();
    setFilter({
      integrationId: blankToUndefined(form.integrationId),
      status: (blankToUndefined(form.status) as JobStatus | undefined) ?? undefined,
      operation: blankToUndefined(form.operation),
      entityId: blankToUndefined(form.entityId),
      correlationId: blankToUndefined(form.correlationId),
      createdAfter: isoOrUndefined(form.after),
      createdBefore: isoOrUndefined(form.before),
    });
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const rows = [...(jobs.data?.integrationJobs.edges ?? [])].reverse();
  const pageInfo = jobs.data?.integrationJobs.pageInfo;
  // The list pages oldest first: the next page holds newer jobs.
  const loadNewer = async () => {
    if (!pageInfo?.endCursor) return;
    const next = await request(ConsoleJobsDocument, { first: 100, after: pageInfo.endCursor, filter });
    jobs.setData((d) => {
      const known = new Set(d.integrationJobs.edges.map((e) => e.node.id));
      return {
        ...d,
        integrationJobs: {
          ...d.integrationJobs,
          pageInfo: next.integrationJobs.pageInfo,
          edges: [...d.integrationJobs.edges, ...next.integrationJobs.edges.filter((e) => !known.has(e.node.id))],
        },
      };
    });
  };

  return (
    <Page
      title="Jobs"
      actions={
        <ConfirmButton
          label="Replay all failed…"
          disabled={!filter.integrationId || replay.pending}
          question="Put every FAILED job of this integration back in the queue?"
          onConfirm={async () => {
            const r = await replay.run({ integrationId: filter.integrationId! });
            if (r) setNotice(`${r.replayFailedIntegrationJobs.jobs.length} failed jobs replayed`);
            jobs.reload();
          }}
        />
      }
    >
      <form className="filters" onSubmit={apply} aria-label="Job filters">
        <label>
          Integration
          <IntegrationSelect id="f-integration" value={form.integrationId} onChange={(v) => setForm((f) => ({ ...f, integrationId: v }))} />
        </label>
        <label>
          Status
          <select value={form.status} onChange={set('status')}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Operation
          <input value={form.operation} onChange={set('operation')} placeholder="customer.upsert" />
        </label>
        <label>
          Entity id
          <input value={form.entityId} onChange={set('entityId')} />
        </label>
        <label>
          Correlation id
          <input value={form.correlationId} onChange={set('correlationId')} />
        </label>
        <label>
          Created after
          <input type="datetime-local" value={form.after} onChange={set('after')} />
        </label>
        <label>
          Created before
          <input type="datetime-local" value={form.before} onChange={set('before')} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={jobs.error ?? replay.error} />
      {notice && <p role="status">{notice}</p>}
      <p className="count" aria-live="polite">
        {jobs.data ? `${jobs.data.integrationJobs.totalCount} jobs${filter.createdAfter && !form.after ? ' in the last hour' : ''}, ${rows.length} shown` : ' '}{' '}
        {pageInfo?.hasNextPage && (
          <button type="button" onClick={() => void loadNewer()}>
            Load newer jobs
          </button>
        )}
      </p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Created</th>
              <th>Integration</th>
              <th>Operation</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Entity</th>
              <th>Last error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ node: j }) => (
              <tr key={j.id} data-job-id={j.id}>
                <td>
                  <Link to={`/jobs/${encodeURIComponent(j.id)}`}>{fmtTime(j.createdAt)}</Link>
                </td>
                <td>{j.integration.name}</td>
                <td>{j.operation}</td>
                <td>
                  <Badge value={j.status} />
                </td>
                <td>
                  {j.attempts}/{j.maxAttempts}
                </td>
                <td className="mono clip-id" title={j.entityId ?? undefined}>{j.entityId ?? "—"}</td>
                <td className="clip">{j.lastError ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

function JobDetail({ id }: { id: string }) {
  const job = useQuery(ConsoleJobDocument, { id });
  const retry = useMutation(ConsoleRetryJobDocument);
  const cancel = useMutation(ConsoleCancelJobDocument);
  useSubscription(ConsoleJobUpdatedDocument, { filter: { jobId: id } }, () => job.reload());
  const j = job.data?.integrationJob;
  return (
    <Page
      title="Job"
      actions={
        <span className="actions">
          <button type="button" disabled={!j || j.status !== 'FAILED' || retry.pending} onClick={() => retry.run({ id }).then(() => job.reload())}>
            Retry
          </button>
          <ConfirmButton
            label="Cancel job…"
            disabled={!j || !['PENDING', 'RETRYING'].includes(j.status) || cancel.pending}
            question="Cancel this job?"
            onConfirm={() => void cancel.run({ id }).then(() => job.reload())}
          />
        </span>
      }
    >
      <p>
        <Link to="/jobs">← All jobs</Link>
      </p>
      <ErrorLine error={job.error ?? retry.error ?? cancel.error} />
      {j && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={j.status} />
            </dd>
            <dt>Operation</dt>
            <dd>{j.operation}</dd>
            <dt>Integration</dt>
            <dd>{j.integration.name}</dd>
            <dt>Attempts</dt>
            <dd>
              {j.attempts}/{j.maxAttempts}
            </dd>
            <dt>Next attempt</dt>
            <dd>{fmtTime(j.nextAttemptAt)}</dd>
            <dt>Entity</dt>
            <dd className="mono">{j.entityId ?? '—'}</dd>
            <dt>Correlation id</dt>
            <dd className="mono">
              <Link to={`/logs?correlationId=${encodeURIComponent(j.correlationId)}`}>{j.correlationId}</Link>
            </dd>
            <dt>Last error</dt>
            <dd>{j.lastError ?? '—'}</dd>
          </dl>
          <h2>Timeline</h2>
          <ol className="timeline" aria-label="Attempts">
            <li>
              <time>{fmtTime(j.createdAt)}</time> created ({j.source})
            </li>
            {j.logs.map((l) => (
              <li key={l.id} className={`tl-${l.status.toLowerCase()}`}>
                <time>{fmtTime(l.timestamp)}</time> attempt {l.attempt ?? '—'}: <Badge value={l.status} /> HTTP {l.httpStatus ?? '—'}, {l.durationMs ?? '—'} ms
                {l.errorMsg ? ` — ${l.errorKind ? `${l.errorKind}: ` : ''}${l.errorMsg}` : ''}
              </li>
            ))}
            {j.nextAttemptAt && ['RETRYING', 'PENDING'].includes(j.status) && (
              <li>
                <time>{fmtTime(j.nextAttemptAt)}</time> next attempt
              </li>
            )}
            {j.completedAt && (
              <li>
                <time>{fmtTime(j.completedAt)}</time> {j.status.toLowerCase()}
              </li>
            )}
          </ol>
        </>
      )}
    </Page>
  );
}

export default function JobsPage({ path }: { path: string }) {
  const id = path.split('/')[2];
  return id ? <JobDetail id={decodeURIComponent(id)} /> : <JobList />;
}
