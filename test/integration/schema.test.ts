import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printPublishedSchema } from '../../src/graphql/schema.js';

describe('published schema', () => {
  it('schema/schema.graphql is exactly what the code generates (run `npm run schema:emit` after an API change)', async () => {
    const committed = await readFile(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(await printPublishedSchema());
  });

  it('carries the contract names', async () => {
    const sdl = await printPublishedSchema();
    for (const name of [
      'interface Node',
      'scalar Decimal',
      'scalar DateTime',
      'type Money',
      'type ExternalRef',
      'type Customer implements Node',
      'type Invoice implements Node',
      'type InvoiceConnection',
      'enum InvoiceStatus',
      'type Integration implements Node',
      'enum CircuitState',
      'createCustomer(input: CreateCustomerInput!): CustomerPayload!',
      'updateCustomer(expectedVersion: Int, id: ID!, input: UpdateCustomerInput!): CustomerPayload!',
      'createApiKey(input: CreateApiKeyInput!): CreateApiKeyPayload!',
      'node(id: ID!): Node',
    ]) {
      expect(sdl).toContain(name);
    }
  });
});
