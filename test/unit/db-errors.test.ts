import { buildSchema, execute, parse } from 'graphql';
import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { DatabaseConnectError, DatabaseTimeoutError, isDatabaseUnavailable } from '../../src/db/db-errors.js';
import { retryWhileUnavailable } from '../../src/db/retry.js';
import { conflict } from '../../src/domain/shared/errors.js';
import { formatSubscriptionResult } from '../../src/graphql/subscriptions.js';

/** An error as node-postgres reports one from the server: a message and its SQLSTATE. */
const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('isDatabaseUnavailable: which failures mean "retry later" (SERVICE_UNAVAILABLE)', () => {
  it.each([
    ['the server shutting down (57P01)', pgError('57P01', 'terminating connection due to administrator command')],
    ['the server crashed or is starting (57P02, 57P03)', pgError('57P03', 'the database system is starting up')],
    ['a connection exception (08006)', pgError('08006')],
    ['a statement timeout (57014)', pgError('57014', 'canceling statement due to statement timeout')],
    ['a lock timeout (55P03)', pgError('55P03')],
    ['too many connections (53300)', pgError('53300')],
    ['a full disk (53100)', pgError('53100')],
    ['a refused connect', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['both addresses of localhost refused', new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'connect failed')],
    ['a connection that ended under a query', new Error('Connection terminated unexpectedly')],
    ['a pool that gave no connection in time', new Error('timeout exceeded when trying to connect')],
    ['a client already broken', new Error('Client has encountered a connection error and is not queryable')],
    ['our own time limit', new DatabaseTimeoutError('PostgreSQL did not answer within 1500 ms')],
    ['our own failed connect', new DatabaseConnectError('could not connect to PostgreSQL: password authentication failed')],
    ['TypeORM wrapping a server shutdown', new QueryFailedError('SELECT 1', [], pgError('57P01'))],
    ['a cause chain', new Error('outer', { cause: new Error('Connection terminated unexpectedly') })],
  ])('%s: yes', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation (23505)', pgError('23505')],
    ['a syntax error (42601)', pgError('42601')],
    ['a missing column (42703), wrapped by TypeORM', new QueryFailedError('SELECT x', [], pgError('42703'))],
    ['a serialization failure (40001): retried by the code that runs the transaction, not by the client', pgError('40001')],
    ['a domain error', conflict('version mismatch')],
    ['an arbitrary error', new Error('boom')],
    ['not an error', 'Connection terminated'],
  ])('%s: no', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('errors clients see when the database is unavailable', () => {
  const schema = buildSchema('type Query { customers: [String] other: String }');

  it('a resolver that loses its connection gives SERVICE_UNAVAILABLE with retryAfterSeconds, not INTERNAL_SERVER_ERROR; its text is not shown', () => {
    const result = execute({
      schema,
      document: parse('{ customers other }'),
      rootValue: {
        customers: () => {
          throw new QueryFailedError('SELECT * FROM customer', [], Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }));
        },
        other: () => {
          throw pgError('42601', 'syntax error at or near "SELEC"');
        },
      },
    }) as Awaited<ReturnType<typeof execute>>;
    const payload = formatSubscriptionResult(result);
    const byPath = Object.fromEntries(payload.errors!.map((e) => [e.path![0], e]));
    expect(byPath.customers.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 2 });
    expect(byPath.customers.message).not.toMatch(/10\.0\.0\.5|SELECT/);
    // Any other failure is still masked as unexpected.
    expect(byPath.other.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });
});

describe('retryWhileUnavailable (a worker recording what already happened)', () => {
  it('retries while the database is unavailable, and returns what the first successful run returns', async () => {
    const attempts: number[] = [];
    const value = await retryWhileUnavailable(async (attempt) => {
      attempts.push(attempt);
      if (attempt < 2) throw new Error('Connection terminated unexpectedly');
      return 'recorded';
    });
    expect(value).toBe('recorded');
    expect(attempts).toEqual([0, 1, 2]);
  });

  it('throws any other error at once, and stops when its signal aborts', async () => {
    let runs = 0;
    await expect(
      retryWhileUnavailable(async () => {
        runs++;
        throw pgError('23505');
      }),
    ).rejects.toThrow('error 23505');
    expect(runs).toBe(1);

    const stop = new AbortController();
    runs = 0;
    const stopped = retryWhileUnavailable(
      async () => {
        runs++;
        throw new DatabaseTimeoutError('no answer');
      },
      { signal: stop.signal },
    );
    await new Promise((r) => setTimeout(r, 150));
    stop.abort();
    await expect(stopped).rejects.toThrow('no answer');
    expect(runs).toBeGreaterThanOrEqual(2);
  });
});
