import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import pg from 'pg';
import { inject } from 'vitest';
import { parseEnv, type Env } from '../../src/config/env.js';
import { createScratchDatabase } from '../../src/db/scratch-database.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { TcpProxy } from './tcp-proxy.js';

export interface GraphQLResponse<T> {
  status: number;
  headers: Headers;
  body: ExecutionResult<T> & { errors?: Array<{ message: string; extensions?: Record<string, unknown>; path?: string[] }> };
}

export interface TestGateway {
  gateway: Gateway;
  env: Env;
  url: string;
  adminKey: string;
  databaseUrl: string;
  /** With `proxy: true`: the TCP proxy the gateway reaches PostgreSQL through (the test's own `sql` goes direct). */
  proxy: TcpProxy | null;
  /** Runs a typed operation over real HTTP with the admin key, or the key given. */
  request<T, V>(doc: TypedDocumentNode<T, V>, variables?: V, options?: { key?: string | null; headers?: Record<string, string> }): Promise<GraphQLResponse<T>>;
  /** Like request, but fails the test on any GraphQL error and returns data. */
  run<T, V>(doc: TypedDocumentNode<T, V>, variables?: V, options?: { key?: string | null }): Promise<T>;
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

/** A database of its own on the test server (see global-setup.ts). */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  return createScratchDatabase(inject('pgAdminUrl'), 'sb_test');
}

/** The environment a test gateway runs with (each call: a fresh admin key and encryption key). */
export function testEnv(databaseUrl: string | undefined, dataDir: string, extraEnv: Record<string, string> = {}) {
  return parseEnv({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_API_KEY: `sb_admin_${randomBytes(24).toString('base64url')}`,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // Half the default pool: CI also runs the integration tests, two files at a time, on a
    // server with 100 connections, and a gateway can open 40 (pool, queue, prepared statements,
    // listeners); with 20 here the suite peaked at 95 and a run failed on "too many clients".
    DB_POOL_SIZE: '10',
    // The sandbox's fake providers listen on loopback.
    OUTBOUND_ALLOW_LOOPBACK: 'true',
    ...extraEnv,
  });
}

/** The whole gateway in this process, on its own database and a free port. */
export async function startTestGateway(
  extraEnv: Record<string, string> = {},
  options: {
    logSink?: (line: string) => void;
    /** Put a TcpProxy (test/support/tcp-proxy.ts) between the gateway and PostgreSQL. */
    proxy?: boolean;
    /** A database to use instead of a fresh one on the test server (dropped by `stop` if `drop` is given). */
    database?: { url: string; drop?: () => Promise<void> };
  } = {},
): Promise<TestGateway> {
  const database = options.database ?? (await createTestDatabase());
  const proxy = options.proxy ? await TcpProxy.start(database.url) : null;
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-data-'));
  const env = testEnv(proxy ? proxy.urlFor(database.url) : database.url, dataDir, extraEnv);
  const adminKey = env.ADMIN_API_KEY!;
  const log = options.logSink ? createLogger(env.LOG_LEVEL, { write: options.logSink }) : createLogger(env.LOG_LEVEL);
  const gateway = await startGateway(env, log);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // A test that restarts or kills the server breaks idle connections: the pool replaces them.
  pool.on('error', () => undefined);

  const request: TestGateway['request'] = async (doc, variables, options = {}) => {
    const key = options.key === undefined ? adminKey : options.key;
    const res = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        // As current GraphQL clients ask (GraphQL over HTTP): request errors then come as 400.
        accept: 'application/graphql-response+json, application/json;q=0.9',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query: print(doc), variables }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResponse<never>['body'] };
  };

  return {
    gateway,
    env,
    url: gateway.url,
    adminKey,
    databaseUrl: database.url,
    proxy,
    request,
    async run(doc, variables, options) {
      const res = await request(doc, variables, options);
      if (res.body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.body.errors)}`);
      return res.body.data!;
    },
    async sql(text, params) {
      return (await pool.query(text, params)).rows;
    },
    async stop() {
      await pool.end();
      proxy?.resume();
      await gateway.stop();
      await proxy?.close();
      await database.drop?.();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The extensions.code of each error in a response. */
export const codes = (res: GraphQLResponse<unknown>) => (res.body.errors ?? []).map((e) => e.extensions?.code);

/** /metrics of a gateway, read with a key holding metrics:read (the admin key by default). */
export async function scrapeMetrics(baseUrl: string, key: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
