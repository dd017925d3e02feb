import { useState } from 'react';
import { useQuery, useSubscription } from '../api';
import { ConsoleLogAddedDocument, ConsoleLogsDocument, type ConsoleLogFragment } from '../generated/graphql';
import { Link, navigate, useLocation } from '../router';
import { Badge, ErrorLine, fmtTime, Page } from '../ui';

const KEEP = 200;

export default function LogsPage() {
  const { search } = useLocation();
  const correlationId = search.get('correlationId') ?? '';
  const [input, setInput] = useState(correlationId);
  const [since] = useState(() => new Date(Date.now() - 15 * 60_000).toISOString());
  const filter = correlationId ? { correlationId } : { since };
  const initial = useQuery(ConsoleLogsDocument, { first: 100, filter });
  const [live, setLive] = useState<ConsoleLogFragment[]>([]);
  const [paused, setPaused] = useState(false);

  useSubscription(
    ConsoleLogAddedDocument,
    { filter: correlationId ? { correlationId } : null },
    ({ integrationLogAdded: log }) => setLive((rows) => [log, ...rows].slice(0, KEEP)),
    !paused,
  );

  const seen = new Set(live.map((l) => l.id));
  const rows = [...live, ...[...(initial.data?.integrationLogs.edges ?? [])].reverse().map((e) => e.node).filter((l) => !seen.has(l.id))].slice(0, KEEP);

  return (
    <Page
      title="Logs"
      actions={
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume live tail' : 'Pause live tail'}
        </button>
      }
    >
      <form
        className="filters"
        aria-label="Search logs"
        onSubmit={(e) => {
          e.preventDefault();
          setLive([]);
          navigate(input.trim() ? `/logs?correlationId=${encodeURIComponent(input.trim())}` : '/logs');
        }}
      >
        <label>
          Correlation id
          <input value={input} onChange={(e) => setInput(e.target.value)} placeholder="any" />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorLine error={initial.error} />
      <p className="count">{correlationId ? `Calls for correlation id ${correlationId}` : 'Last 15 minutes, newest first, live'}</p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Time</th>
              <th>Service</th>
              <th>Event</th>
              <th>Dir.</th>
              <th>Status</th>
              <th>HTTP</th>
              <th>ms</th>
              <th>Correlation id</th>
              <th>Record</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((l) => (
              <tr key={l.id}>
                <td>{fmtTime(l.timestamp)}</td>
                <td>{l.service}</td>
                <td>{l.eventType}</td>
                <td>{l.direction === 'INBOUND' ? 'in' : 'out'}</td>
                <td>
                  <Badge value={l.status} />
                </td>
                <td>{l.httpStatus ?? '—'}</td>
                <td>{l.durationMs ?? '—'}</td>
                <td className="mono clip-id" title={l.correlationId ?? undefined}>
                  {l.correlationId ? <Link to={`/logs?correlationId=${encodeURIComponent(l.correlationId)}`}>{l.correlationId}</Link> : '—'}
                </td>
                <td>
                  {l.jobId ? (
                    <Link to={`/jobs/${encodeURIComponent(l.jobId)}`}>job</Link>
                  ) : l.webhookEventId ? (
                    <Link to={`/webhooks?id=${encodeURIComponent(l.webhookEventId)}`}>webhook event</Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td className="wrap">{l.errorKind ? `${l.errorKind}: ${l.errorMsg ?? ''}` : (l.errorMsg ?? '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
