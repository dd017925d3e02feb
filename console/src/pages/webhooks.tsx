import { useState } from 'react';
import { useMutation, useQuery } from '../api';
import {
  ConsoleReplayWebhookEventDocument,
  ConsoleWebhookEventDocument,
  ConsoleWebhookEventsDocument,
  type ConsoleWebhookEventFragment,
  type WebhookEventFilter,
  type WebhookStatus,
} from '../generated/graphql';
import { Link, useLocation } from '../router';
import { Badge, ConfirmButton, ErrorLine, fmtTime, Page } from '../ui';
import { blankToUndefined, IntegrationSelect, isoOrUndefined } from './shared';

const STATUSES: WebhookStatus[] = ['RECEIVED', 'PROCESSED', 'FAILED', 'IGNORED'];

function Rows({ events, onReplay }: { events: ConsoleWebhookEventFragment[]; onReplay: (id: string) => void }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Received</th>
            <th>Integration</th>
            <th>Type</th>
            <th>Provider event id</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Error</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{fmtTime(e.receivedAt)}</td>
              <td>{e.integration.name}</td>
              <td>{e.eventType}</td>
              <td className="mono clip">{e.externalEventId}</td>
              <td>
                <Badge value={e.status} />
              </td>
              <td>{e.attempts}</td>
              <td className="clip">{e.error ?? ''}</td>
              <td>
                <Link to={`/logs?correlationId=${encodeURIComponent(e.correlationId)}`}>logs</Link>{' '}
                <ConfirmButton label="Replay…" question="Process this event again?" onConfirm={() => onReplay(e.id)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function WebhooksPage() {
  const { search } = useLocation();
  const one = search.get('id');
  const [form, setForm] = useState({ integrationId: '', status: '', eventType: '', externalEventId: '', after: '' });
  const [filter, setFilter] = useState<WebhookEventFilter>({ receivedAfter: new Date(Date.now() - 3600_000).toISOString() });
  const list = useQuery(ConsoleWebhookEventsDocument, { first: 100, filter }, !one);
  const single = useQuery(ConsoleWebhookEventDocument, { id: one ?? '' }, !!one);
  const replay = useMutation(ConsoleReplayWebhookEventDocument);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const onReplay = (id: string) => void replay.run({ id }).then(() => (one ? single.reload() : list.reload()));

  const events = one
    ? single.data?.node && 'id' in single.data.node
      ? [single.data.node as ConsoleWebhookEventFragment]
      : []
    : [...(list.data?.webhookEvents.edges ?? [])].reverse().map((e) => e.node);

  return (
    <Page title="Webhook events">
      {one ? (
        <p>
          <Link to="/webhooks">← All webhook events</Link>
        </p>
      ) : (
        <form
          className="filters"
          aria-label="Webhook event filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter({
              integrationId: blankToUndefined(form.integrationId),
              status: blankToUndefined(form.status) as WebhookStatus | undefined,
              eventType: blankToUndefined(form.eventType),
              externalEventId: blankToUndefined(form.externalEventId),
              receivedAfter: isoOrUndefined(form.after),
            });
          }}
        >
          <label>
            Integration
            <IntegrationSelect id="w-integration" value={form.integrationId} onChange={(v) => setForm((f) => ({ ...f, integrationId: v }))} />
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
            Type
            <input value={form.eventType} onChange={set('eventType')} placeholder="customer.updated" />
          </label>
          <label>
            Provider event id
            <input value={form.externalEventId} onChange={set('externalEventId')} />
          </label>
          <label>
            Received after
            <input type="datetime-local" value={form.after} onChange={set('after')} />
          </label>
          <button type="submit">Filter</button>
        </form>
      )}
      <ErrorLine error={list.error ?? single.error ?? replay.error} />
      <p className="count">{!one && list.data ? `${list.data.webhookEvents.totalCount} events` : ' '}</p>
      <Rows events={events} onReplay={onReplay} />
    </Page>
  );
}
