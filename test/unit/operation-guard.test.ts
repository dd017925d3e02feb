import 'reflect-metadata';
import { getNamedType, getOperationAST, isListType, isNonNullType, isObjectType, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ROLE_SCOPES } from '../../src/domain/auth/roles.js';
import { Role } from '../../src/domain/auth/api-key.entity.js';
import { guardOperation, UNPAGED_LIST_MAX } from '../../src/graphql/operation-guard.js';
import { getSchema } from '../../src/graphql/schema.js';
import { scopeOfType, TYPE_SCOPES } from '../../src/graphql/type-scopes.js';

const costOf = async (query: string) => {
  const schema = await getSchema();
  const document = parse(query);
  const refusal = guardOperation(schema, document, getOperationAST(document)!, {}, ROLE_SCOPES[Role.ADMIN], { maxCost: 0, maxMutationFields: 1000 });
  return refusal?.extensions.cost as number;
};

describe('operation guard', () => {
  it('prices every unpaged list of objects on purpose: each is in UNPAGED_LIST_MAX', async () => {
    const schema = await getSchema();
    const unpriced: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__') || type.name.endsWith('Connection')) continue;
      for (const field of Object.values(type.getFields())) {
        const inner = isNonNullType(field.type) ? field.type.ofType : field.type;
        if (isListType(inner) && isObjectType(getNamedType(field.type)) && !(`${type.name}.${field.name}` in UNPAGED_LIST_MAX)) unpriced.push(`${type.name}.${field.name}`);
      }
    }
    expect(unpriced).toEqual([]);
  });

  it('every node type has a read scope', async () => {
    const schema = await getSchema();
    const nodes = Object.values(schema.getTypeMap()).filter((t) => isObjectType(t) && t.getInterfaces().some((i) => i.name === 'Node'));
    expect(nodes.map((n) => n.name).filter((n) => !scopeOfType(n))).toEqual([]);
    expect(scopeOfType('CustomerConnection')).toBe(TYPE_SCOPES.Customer);
  });

  it('prices rows: scalars nothing, pages by first, unpaged lists by their maximum, list arguments by length', async () => {
    expect(await costOf('{ customers(first: 100) { totalCount edges { node { id name email } } } }')).toBe(1 + 100 * 1);
    expect(await costOf('{ invoices(first: 100) { edges { node { lineItems { id } } } } }')).toBe(1 + 100 * (1 + 1 + 250));
    const push = (n: number) => `mutation { pushCustomers(customerIds: [${Array.from({ length: n }, () => '"x"').join(',')}], integrationId: "i") { jobs { id } } }`;
    expect(await costOf(push(500))).toBe(500 * (await costOf(push(1))));
  });
});
