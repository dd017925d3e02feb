import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { SoakReport } from './soak-run.js';

const require = createRequire(import.meta.url);

/** The case's figures (the reference: 5 s change-to-provider) and the soak's targets. */
export const TARGETS = { consistency: 1, echoCalls: 0, p99Ms: 1000, referenceP99Ms: 5000, failedShare: 0.0005, rate: 50 };

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : '-');
const pct = (v: number, digits = 2) => `${(v * 100).toFixed(digits)} %`;
const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** The report as the table `npm run soak` prints. */
export function formatReport(r: SoakReport): string {
  const lines: string[] = [];
  const row = (label: string, value: string, target = '') => lines.push(`${label.padEnd(34)} ${value.padEnd(30)} ${target}`);
  lines.push(`Soak: ${r.options.changes} changes at ${r.options.rate}/s asked (${r.achievedRate.toFixed(1)}/s made, ${r.durationSeconds.toFixed(1)} s), ${r.options.customers} customers, ${r.options.contracts} contracts`);
  lines.push(`Faults: ${pct(r.options.faultRate, 0)} transient errors at every provider, ${pct(r.options.duplicateRate, 0)} duplicated and all reordered webhooks, one 429 burst, worker SIGKILL at ${r.workerKilledAt?.toFixed(1) ?? '-'} s`);
  lines.push('');
  row('changes per source', Object.entries(r.changesBySource).map(([k, v]) => `${k} ${v}`).join(', '));
  row('  of which conflicts (non-owner)', String(r.conflicts));
  row('consistency after settle', `${pct(r.consistency)} (${r.consistentRecords}/${r.records} records)`, `target 100 %: ${mark(r.consistency >= TARGETS.consistency)}`);
  row('echo calls', String(r.echoCalls), `target 0: ${mark(r.echoCalls === TARGETS.echoCalls)}`);
  row('suppressed echoes', String(r.suppressedEchoes));
  row('jobs sent', String(r.jobs.total));
  row('jobs FAILED', `${r.jobs.failed} (${pct(r.errorRate, 3)})`, `target < 0.05 %: ${mark(r.errorRate < TARGETS.failedShare)}`);
  row('webhook events received', `${r.webhookEvents.total} (${r.webhookEvents.failed} FAILED)`);
  row('settle time', `${r.settleSeconds.toFixed(1)} s`);
  row('arrivals measured / overtaken / lost', `${r.arrivals.measured} / ${r.arrivals.superseded} / ${r.arrivals.missing}`);
  row('  unorderable Stripe same-second pairs', String(r.arrivals.unorderable));
  lines.push('');
  const rateNote = r.achievedRate >= TARGETS.rate * 0.95 ? `at ${r.achievedRate.toFixed(0)} changes/s` : `at ${r.achievedRate.toFixed(0)} changes/s (target is stated at ${TARGETS.rate}/s)`;
  lines.push(`change-to-provider latency ${rateNote}; target p99 < ${TARGETS.p99Ms} ms (the case: ${TARGETS.referenceP99Ms} ms)`);
  lines.push(`${'route'.padEnd(26)} ${'n'.padStart(6)} ${'p50'.padStart(9)} ${'p95'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`);
  for (const l of [...r.latency.routes, r.latency.all, r.steadyLatency, r.calmLatency]) {
    lines.push(`${l.route.padEnd(26)} ${String(l.n).padStart(6)} ${ms(l.p50).padStart(9)} ${ms(l.p95).padStart(9)} ${ms(l.p99).padStart(9)} ${ms(l.max).padStart(9)}`);
  }
  lines.push(`p99, all routes: ${ms(r.latency.all.p99)}: ${mark(r.latency.all.p99 < TARGETS.p99Ms)}; without the SIGKILL window (5 s before to 25 s after): ${ms(r.steadyLatency.p99)}: ${mark(r.steadyLatency.p99 < TARGETS.p99Ms)}`);
  lines.push(`  and without the 429 burst's window too (1 s before to 10 s after; its Retry-After: 1 is a floor of 1 s for the writes it answers): ${ms(r.calmLatency.p99)}: ${mark(r.calmLatency.p99 < TARGETS.p99Ms)}`);
  if (r.mismatches.length) lines.push('', 'first mismatches:', ...r.mismatches.map((m) => `  ${m}`));
  if (r.echoExamples.length) lines.push('', 'echo calls:', ...r.echoExamples.map((m) => `  ${m}`));
  return lines.join('\n');
}

/** A font for the chart's text (resvg-wasm reads no system fonts by itself); none found: no text. */
async function font(): Promise<{ buffers: Uint8Array[]; family?: string }> {
  const candidates: Array<[string, string]> = [
    ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'DejaVu Sans'],
    ['/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', 'Liberation Sans'],
    ['/System/Library/Fonts/Supplemental/Arial.ttf', 'Arial'],
    ['C:\\Windows\\Fonts\\arial.ttf', 'Arial'],
  ];
  const found = candidates.find(([f]) => existsSync(f));
  return found ? { buffers: [await readFile(found[0])], family: found[1] } : { buffers: [] };
}

let wasmReady: Promise<void> | null = null;

/** The latency histogram (one colour per route, log-scaled buckets) as SVG and PNG. */
export async function latencyChart(r: SoakReport): Promise<{ svg: string; png: Uint8Array }> {
  const values = r.latencies.map((l) => ({ route: l.route, log10ms: Math.log10(Math.max(1, l.ms)) }));
  const spec = compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Change-to-provider latency, ${r.latencies.length} arrivals at ${r.achievedRate.toFixed(0)} changes/s (p99 ${ms(r.latency.all.p99)})`, fontSize: 14 },
    width: 720,
    height: 360,
    background: 'white',
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'log10ms', type: 'quantitative', bin: { maxbins: 40 }, title: 'latency, log10(ms)   (2 = 100 ms, 3 = 1 s, 4 = 10 s)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'changes', stack: true },
      color: { field: 'route', type: 'nominal', title: 'route' },
    },
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  wasmReady ??= readFile(require.resolve('@resvg/resvg-wasm/index_bg.wasm')).then((wasm) => initWasm(wasm));
  await wasmReady;
  const { buffers, family } = await font();
  const png = new Resvg(svg, { background: 'white', font: { fontBuffers: buffers, defaultFontFamily: family, sansSerifFamily: family } }).render().asPng();
  return { svg, png };
}

/** Writes soak.json (every figure and each measured latency), soak.txt (the table) and soak-latency.png/.svg. */
export async function writeReport(r: SoakReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const { svg, png } = await latencyChart(r);
  const files = { 'soak.json': JSON.stringify({ targets: TARGETS, ...r }, null, 2), 'soak.txt': formatReport(r) + '\n', 'soak-latency.svg': svg };
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  await writeFile(join(dir, 'soak-latency.png'), png);
  return [...Object.keys(files), 'soak-latency.png'].map((f) => join(dir, f));
}
