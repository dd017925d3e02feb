import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The operator console (index.html) and GraphiQL (graphiql.html), built into dist/console and
 * served by the gateway under /console and /graphiql. Everything is bundled, Monaco's workers
 * included: the pages load nothing from outside the gateway.
 */
export default defineConfig({
  root: here('.'),
  base: '/console/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  worker: { format: 'es' },
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    // GraphiQL with Monaco is large by nature; it is its own page and never on the console's path.
    chunkSizeWarningLimit: 5000,
    reportCompressedSize: false,
    rolldownOptions: {
      input: { index: here('index.html'), graphiql: here('graphiql.html') },
      // GraphiQL's React dependencies mark themselves "use client" (a server-components hint that
      // means nothing in a browser-only bundle).
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
});
