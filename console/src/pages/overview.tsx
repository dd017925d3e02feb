import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useQuery, useSubscription } from '../api';
import { ConsoleAlertUpdatedDocument, ConsoleOverviewDocument, ConsoleThroughputDocument, type ConsoleThroughputQuery } from '../generated/graphql';
import { Link } from '../router';
import { Badge, ErrorLine, fmtNum, fmtTime, Page } from '../ui';

const WINDOW_SECONDS = 900;
const BUCKET_SECONDS = 10;
const REFRESH_MS = 5000;

/** Re-runs `reload` every few seconds while the page is visible. */
function useRefresh(reload: () => void, ms = REFRESH_MS) {
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && reload(), ms);
    return () => clearInterval(timer);
  }, [reload, ms]);
}

function ThroughputChart({ buckets }: { buckets: ConsoleThroughputQuery['throughput'] | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef<uPlot.AlignedData | null>(null);
  useEffect(() => {
    const el = box.current!;
    // After the page's queries have gone out (effects run child first).
    let resize: ResizeObserver | null = null;
    const timer = setTimeout(() => {
    plot.current = new uPlot(
      {
        width: el.clientWidth,
        height: 220,
        series: [
          {},
          { label: 'jobs completed/s', stroke: '#17703a', width: 2 },
          { label: 'jobs failed/s', stroke: '#b42318', width: 2 },
          { label: 'webhook events/s', stroke: '#1f5fbf', width: 2 },
        ],
        axes: [{}, { label: 'per second', size: 60 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      [[], [], [], []],
      el,
    );
    if (latest.current) plot.current.setData(latest.current);
    resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: 220 }));
    resize.observe(el);
    }, 0);
    return () => {
      clearTimeout(timer);
      resize?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    if (!buckets) return;
    const per = (n: number) => n / BUCKET_SECONDS;
    latest.current = [
      buckets.map((b) => Date.parse(b.at) / 1000),
      buckets.map((b) => per(b.jobsCompleted)),
      buckets.map((b) => per(b.jobsFailed)),
      buckets.map((b) => per(b.webhookEvents)),
    ];
    plot.current?.setData(latest.current);
  }, [buckets]);
  return <div className="chart" ref={box} role="img" aria-label="Jobs and webhook events per second, last 15 minutes" />;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
const secs = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} s`);

export default function OverviewPage() {
  const overview = useQuery(ConsoleOverviewDocument, { windowSeconds: WINDOW_SECONDS });
  const throughput = useQuery(ConsoleThroughputDocument, { sinceSeconds: WINDOW_SECONDS, bucketSeconds: BUCKET_SECONDS });
  useRefresh(overview.reload);
  useRefresh(throughput.reload);
  // A firing or resolved alert usually means a circuit or a queue just changed: refresh at once.
  useSubscription(ConsoleAlertUpdatedDocument, {}, () => overview.reload());

  return (
    <Page title="Overview">
      <h2>Throughput, last 15 minutes</h2>
      <ThroughputChart buckets={throughput.data?.throughput} />
      <ErrorLine error={overview.error ?? throughput.error} />
      <div className="cards">
        {overview.data?.integrations.edges.map(({ node: i }) => (
          <article key={i.id} className="card" data-integration-id={i.id} aria-labelledby={`ov-${i.id}`}>
            <header className="card-head">
              <h2 id={`ov-${i.id}`}>
                <Link to={`/jobs?integrationId=${encodeURIComponent(i.id)}`}>{i.name}</Link>
              </h2>
              <span>
                <Badge value={i.status} /> <span className="circuit" data-circuit={i.circuit}><Badge value={i.circuit} /></span>
              </span>
            </header>
            <dl className="facts">
              <dt>Success rate</dt>
              <dd>
                {pct(i.health.successRate)} of {i.health.attempts} calls
              </dd>
              <dt>Latency p50 / p95</dt>
              <dd>
                {fmtNum(i.health.p50LatencyMs)} / {fmtNum(i.health.p95LatencyMs)} ms
              </dd>
              <dt>Errors by kind</dt>
              <dd>{i.health.errorsByKind.length ? i.health.errorsByKind.map((e) => `${e.kind} ${e.count}`).join(', ') : 'none'}</dd>
              <dt>Queue</dt>
              <dd>
                {i.health.queueDepth} waiting, oldest {secs(i.health.oldestWaitingSeconds)}
              </dd>
              <dt>Webhook lag</dt>
              <dd>{secs(i.health.webhookLagSeconds)}</dd>
              <dt>Last sync run</dt>
              <dd>
                {i.health.lastSyncRun ? (
                  <>
                    {i.health.lastSyncRun.resource} <Badge value={i.health.lastSyncRun.status} /> {fmtTime(i.health.lastSyncRun.finishedAt)}
                  </>
                ) : (
                  'none'
                )}
              </dd>
            </dl>
          </article>
        ))}
      </div>
    </Page>
  );
}
