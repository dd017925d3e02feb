import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Where `vite build` (console/vite.config.ts) put the console and GraphiQL: dist/console. The
 * compiled gateway runs from dist/src/http, the sources (under vitest) from src/http.
 */
export function consoleDistDir(): string | null {
  // From the sources, ../../console is the console's source folder: only a built one has assets/.
  const candidates = ['../../dist/console/', '../../console/'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((dir) => existsSync(`${dir}index.html`) && existsSync(`${dir}assets`)) ?? null;
}

/** The WebSocket origin of the page's own host: the only place besides 'self' the pages talk to. */
function sameHostWebSocket(req: Request): string {
  // Host is what the browser asked for; a value outside host[:port] syntax gets no extra source.
  const host = req.headers.host ?? '';
  return /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(host) ? `ws://${host} wss://${host}` : '';
}

/**
 * Security headers for the console and GraphiQL. No inline script anywhere (Vite emits module
 * files); styles may be inline because Monaco and GraphiQL set element styles at run time.
 * Monaco's workers are bundled files on this origin.
 */
export function pageSecurityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", (req) => sameHostWebSocket(req as Request)],
        workerSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    // The same refusal as frame-ancestors 'none', for browsers that only read X-Frame-Options.
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
    // TLS terminates in front of the gateway (docs/security.md): whether a host is HTTPS-only,
    // and its subdomains too, is the proxy's decision, not one page's.
    strictTransportSecurity: false,
  });
}

/**
 * GET /console (and every path below it: the page routes on the client) and GET /graphiql,
 * served from the gateway's own build. Hashed assets are cached for a year; the HTML never.
 */
export function mountConsole(app: Express): void {
  const dir = consoleDistDir();
  const headers = pageSecurityHeaders();
  const page = (file: string): RequestHandler => (_req, res) => {
    if (!dir) {
      res.status(503).type('text/plain').send('The console is not built: run `npm run build`.');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.sendFile(`${dir}${file}`);
  };
  if (dir) {
    app.use(
      '/console/assets',
      headers,
      express.static(`${dir}assets`, { immutable: true, maxAge: '365d', index: false }),
      (_req, res) => void res.status(404).json({ error: 'not_found', message: 'No such console asset' }),
    );
  }
  app.get('/graphiql', headers, page('graphiql.html'));
  app.get(['/console', '/console/{*rest}'], headers, page('index.html'));
}

/**
 * A browser opening /graphql (it asks for text/html first) goes to the bundled GraphiQL; GraphQL
 * clients (JSON, graphql-response+json, a WebSocket upgrade) reach the API as before.
 */
export const graphiqlRedirect: RequestHandler = (req, res, next) => {
  if (req.method !== 'GET' || req.headers.upgrade) return next();
  const accepted = req.accepts(['application/graphql-response+json', 'application/json', 'text/html']);
  if (accepted === 'text/html' && req.query.query === undefined) {
    res.redirect(302, '/graphiql');
    return;
  }
  next();
};
