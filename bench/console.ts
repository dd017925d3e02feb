/**
 * `npm run bench:console`: the operator console's first page in Chromium (Debian's chromium,
 * CHROMIUM_PATH to use another). A cold browser session (no cache) with a signed-in key opens
 * /console/ RUNS times; each load is timed from navigation to the overview showing its
 * integrations (data from the gateway included). The first page's JavaScript is every script the
 * load fetched, gzipped here at level 9 the way a compressing proxy would send it.
 * Targets (issue 20): under 1 s, under 300 KB gzipped.
 */
import { gzipSync } from 'node:zlib';
import { startConsoleWorld } from './console-world.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const LOAD_TARGET_MS = 1000;
const JS_TARGET_KB = 300;

const world = await startConsoleWorld();
try {
  const times: number[] = [];
  let scripts = new Map<string, number>();
  for (let i = 0; i < RUNS; i++) {
    const context = await world.signedIn();
    const page = await context.newPage();
    const sizes = new Map<string, number>();
    page.on('response', async (res) => {
      if (res.request().resourceType() !== 'script') return;
      const body = await res.body().catch(() => null);
      if (body) sizes.set(res.url(), gzipSync(body, { level: 9 }).length);
    });
    const started = performance.now();
    await page.goto(`${world.url}/console/`);
    await page.locator('.cards article').first().waitFor();
    times.push(performance.now() - started);
    await page.waitForLoadState('networkidle');
    scripts = sizes;
    await context.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const totalKb = [...scripts.values()].reduce((a, b) => a + b, 0) / 1024;
  console.log(`first page: /console/ (Overview), ${RUNS} cold loads in Chromium at 1280x800`);
  for (const [url, bytes] of [...scripts].sort((a, b) => b[1] - a[1])) console.log(`  ${(bytes / 1024).toFixed(1).padStart(7)} KB  ${new URL(url).pathname}`);
  console.log(`JavaScript, gzipped: ${totalKb.toFixed(1)} KB (target < ${JS_TARGET_KB} KB) ${totalKb < JS_TARGET_KB ? 'OK' : 'OVER'}`);
  console.log(`load to data shown:  median ${median.toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms (target < ${LOAD_TARGET_MS} ms) ${median < LOAD_TARGET_MS ? 'OK' : 'OVER'}`);
} finally {
  await world.stop();
}
