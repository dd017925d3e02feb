import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateApiKeyDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The console and GraphiQL as HTTP sees them (the pages themselves: test/browser).
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.stop();
});

const directives = (csp: string) => Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));

describe('console and GraphiQL over HTTP', () => {
  it('/console, its deep links and /graphiql are served from the build with a strict CSP, frame-ancestors none and no referrer', async () => {
    const host = new URL(t.url).host;
    for (const path of ['/console', '/console/', '/console/jobs/abc', '/graphiql']) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toMatch(/<script type="module" crossorigin src="\/console\/assets\/[\w-]+\.js"><\/script>/);
      // No inline script: every <script> has a src.
      expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
      const csp = directives(res.headers.get('content-security-policy') ?? '');
      expect(csp['default-src']).toEqual(["'self'"]);
      expect(csp['script-src']).toEqual(["'self'"]);
      expect(csp['connect-src']).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
      expect(csp['worker-src']).toEqual(["'self'"]);
      expect(csp['frame-ancestors']).toEqual(["'none'"]);
      expect(csp['object-src']).toEqual(["'none'"]);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      // HTTPS-only for the host is the TLS proxy's decision.
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('hashed assets are cached for a year; an unknown asset is 404, not the page', async () => {
    const html = await (await fetch(`${t.url}/console`)).text();
    const script = /src="(\/console\/assets\/[\w-]+\.js)"/.exec(html)![1];
    const asset = await fetch(`${t.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('max-age=31536000');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const missing = await fetch(`${t.url}/console/assets/nothing-here.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/json');
  });

  it("a browser's GET /graphql goes to /graphiql (no CDN landing page); GET /graphql with a query and JSON still answers", async () => {
    const browser = await fetch(`${t.url}/graphql`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/graphiql');
    expect(await browser.text()).not.toMatch(/cdn|apollographql\.com|embeddable-sandbox/i);

    const query = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${t.adminKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(query.status).toBe(200);
    expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it("GraphiQL's full introspection query is answered for any key, an APP key included (it is not priced as data)", async () => {
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'introspecting app', role: 'APP' } });
    const query = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true, specifiedByUrl: true, directiveIsRepeatable: true });
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${createApiKey.key}` },
      body: JSON.stringify({ query, operationName: 'IntrospectionQuery' }),
    });
    const body = (await res.json()) as { data?: { __schema: { types: Array<{ name: string }> } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.__schema.types.map((x) => x.name)).toContain('IntegrationJob');
  });
});
