import { buildSchema, execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { notFound } from '../../src/domain/shared/errors.js';
import { formatSubscriptionResult } from '../../src/graphql/subscriptions.js';

const schema = buildSchema(`
  type Job { id: ID status: String secret: String }
  type Query { job: Job }
`);

describe('formatSubscriptionResult (the payload sent to every subscriber of a shared result)', () => {
  it('copies the data into plain objects once per result, and serialises as graphql-js built it', () => {
    const result = execute({ schema, document: parse('{ job { id status } }'), rootValue: { job: { id: 'j1', status: 'COMPLETED' } } }) as ReturnType<typeof execute>;
    if (result instanceof Promise) throw new Error('expected a synchronous execution');
    // graphql-js builds prototype-less objects; the copy has ordinary ones.
    expect(Object.getPrototypeOf(result.data)).toBeNull();
    const payload = formatSubscriptionResult(result);
    expect(Object.getPrototypeOf(payload.data)).toBe(Object.prototype);
    expect(Object.getPrototypeOf((payload.data as { job: object }).job)).toBe(Object.prototype);
    expect(JSON.stringify(payload)).toBe(JSON.stringify(result));
    // Once per result object: every subscriber of that result gets the same payload.
    expect(formatSubscriptionResult(result)).toBe(payload);
  });

  it('formats errors as over HTTP: domain codes kept, unexpected errors without message, stack or cause', () => {
    const result = execute({
      schema,
      document: parse('{ job { id secret } }'),
      rootValue: {
        job: {
          id: () => {
            throw notFound('Customer');
          },
          secret: () => {
            throw new Error('connection to postgres://user:hunter2@db failed');
          },
        },
      },
    }) as Awaited<ReturnType<typeof execute>>;
    const payload = formatSubscriptionResult(result);
    const text = JSON.stringify(payload);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('stacktrace');
    const codes = payload.errors!.map((e) => e.extensions?.code).sort();
    expect(codes).toEqual(['INTERNAL_SERVER_ERROR', 'NOT_FOUND']);
    expect(payload.errors!.find((e) => e.extensions?.code === 'NOT_FOUND')!.message).toBe('Customer not found');
  });
});
