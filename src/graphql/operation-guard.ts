import { MAX_ALERT_RULES } from '../alerts/alert.service.js';
import { MAX_THROUGHPUT_BUCKETS } from '../alerts/health.service.js';
import {
  getNamedType,
  getVariableValues,
  GraphQLError,
  isLeafType,
  isListType,
  isNonNullType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { hasScopes, type Scope } from '../domain/auth/roles.js';
import { MAX_LINE_ITEMS } from '../domain/invoice/invoice.service.js';
import { DEFAULT_PAGE_SIZE } from '../domain/shared/pagination.js';
import { JOB_LOGS_SHOWN } from '../domain/job/integration-log.entity.js';
import { scopeOfType } from './type-scopes.js';

/** What a single mutation field costs before its arguments and selection: it writes. */
export const MUTATION_FIELD_COST = 10;

/**
 * Lists that are not paged, priced at the most they can hold. Payload `jobs` lists hold one job
 * per element of the mutation's list argument, which is already priced by its length, so they
 * count once. A list of objects missing here is priced at UNLISTED_LIST_MAX; a test walks the
 * schema so a new one is priced on purpose.
 */
export const UNPAGED_LIST_MAX: Readonly<Record<string, number>> = {
  'Invoice.lineItems': MAX_LINE_ITEMS,
  'IntegrationJob.logs': JOB_LOGS_SHOWN,
  // One link per integration: deployments run tens of integrations, not hundreds.
  'Customer.externalRefs': 50,
  'Contract.externalRefs': 50,
  'Invoice.externalRefs': 50,
  'Query.apiKeys': 1000,
  'CustomerPayload.jobs': 1,
  'ContractPayload.jobs': 1,
  'InvoicePayload.jobs': 1,
  'JobsPayload.jobs': 1,
  'ReplayPayload.jobs': 1000,
  // One entry per owned field of the type (src/webhooks/ownership.ts) and a few unowned ones.
  'Customer.fieldOrigins': 20,
  'Contract.fieldOrigins': 20,
  'Invoice.fieldOrigins': 20,
  'RehydratePayload.changes': 20,
  'Query.alertRules': MAX_ALERT_RULES,
  // The engine's failure kinds (FailureKind) and `unknown`.
  'IntegrationHealth.errorsByKind': 10,
  'Query.throughput': MAX_THROUGHPUT_BUCKETS,
};
export const UNLISTED_LIST_MAX = 100;

export interface GuardLimits {
  maxCost: number;
  /** Root fields of one mutation operation (aliases count each). */
  maxMutationFields: number;
}

/** Number of elements in every list inside an argument value (input objects included). */
function listElements(value: unknown, depth = 0): number {
  if (depth > 20 || value === null || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.length + value.reduce<number>((n, v) => n + listElements(v, depth + 1), 0);
  return Object.values(value as Record<string, unknown>).reduce<number>((n, v) => n + listElements(v, depth + 1), 0);
}

function isListOutput(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/**
 * Prices a field as the rows and writes it can cause (a scalar costs nothing once its row is
 * read; an object is a row or a lookup):
 * - a connection: its page size times what each node costs;
 * - an unpaged list: its real maximum (UNPAGED_LIST_MAX) times each element;
 * - a mutation field: MUTATION_FIELD_COST plus its selection;
 * - and the whole times the elements of its list arguments (500 ids cost 500 times one id).
 */
function estimator(schema: GraphQLSchema): ComplexityEstimator {
  const mutationType = schema.getMutationType();
  return ({ type, field, args, childComplexity }) => {
    // Introspection reads the schema, not rows: its size is the schema's, whatever the query
    // nests. Priced like data, a client's full introspection query (GraphiQL, codegen) costs
    // millions and would be refused, while the contract answers introspection for every key.
    if (field.name.startsWith('__') || type.name.startsWith('__')) return 0;
    const named = getNamedType(field.type);
    const child = Math.max(childComplexity, 1);
    let cost: number;
    if (isLeafType(named)) {
      cost = 0;
    } else if (/Connection!?$/.test(String(field.type))) {
      const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
      cost = 1 + Math.max(first, 1) * child;
    } else if (type.name.endsWith('Connection') && field.name === 'edges') {
      // The page: already priced by the connection field's `first`.
      cost = childComplexity;
    } else if (isListOutput(field.type)) {
      cost = 1 + (UNPAGED_LIST_MAX[`${type.name}.${field.name}`] ?? UNLISTED_LIST_MAX) * child;
    } else {
      cost = 1 + childComplexity;
    }
    if (type === mutationType) cost += MUTATION_FIELD_COST;
    return cost * Math.max(1, listElements(args));
  };
}

export function requestError(message: string, code: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** Variables as the operation declares them; a value that does not fit is BAD_USER_INPUT naming the variable. */
function coerceVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>): GraphQLError | null {
  const { errors } = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 1 });
  if (!errors?.length) return null;
  const error = errors[0];
  // graphql names the variable, the path inside it ("at "v.items[0].qty"") and an unknown field.
  const name = /Variable "\$([A-Za-z0-9_]+)"/.exec(error.message)?.[1];
  const at = /got invalid value .* at "([^"]+)"/.exec(error.message)?.[1];
  const unknown = /Field "([A-Za-z0-9_]+)" is not defined by type/.exec(error.message)?.[1];
  const field = [at ?? name, unknown].filter(Boolean).join('.');
  return requestError(error.message, 'BAD_USER_INPUT', field ? { field } : {});
}

/**
 * Text the database can hold: no NUL character (PostgreSQL text and jsonb refuse it) and well-formed
 * Unicode (a lone surrogate cannot be encoded in UTF-8). Refused where it enters, naming where.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function badText(value: string): boolean {
  return value.includes('\u0000') || LONE_SURROGATE.test(value);
}

function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return badText(value) ? path : null;
  if (depth > 50 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (badText(key)) return `${path}.${key.replace(/\u0000/g, '\\u0000').replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD')}`;
    const found = findNul(v, `${path}.${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

function nulCharacter(document: DocumentNode, variables: Record<string, unknown>): GraphQLError | null {
  const inVariable = findNul(variables, '$');
  if (inVariable) {
    const field = inVariable.replace(/^\$\.?/, '');
    return requestError(`Variable "$${field}" holds a NUL character (\\u0000) or a lone surrogate, which no text field accepts`, 'BAD_USER_INPUT', { field });
  }
  let literal: string | null = null;
  const stack: string[] = [];
  visit(document, {
    Argument: { enter: (node) => void stack.push(node.name.value), leave: () => void stack.pop() },
    ObjectField: { enter: (node) => void stack.push(node.name.value), leave: () => void stack.pop() },
    StringValue(node) {
      if (literal === null && badText(node.value)) literal = stack.join('.') || 'argument';
    },
  });
  if (literal === null) return null;
  return requestError(`${literal} holds a NUL character (\\u0000) or a lone surrogate, which no text field accepts`, 'BAD_USER_INPUT', { field: literal });
}

/** Root fields of a selection, through fragments (aliases each count). */
function countRootFields(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (!selection.name.value.startsWith('__')) count++;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countRootFields(selection.selectionSet, fragments, seen);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (fragment && !seen.has(name)) {
        seen.add(name);
        count += countRootFields(fragment.selectionSet, fragments, seen);
      }
    }
  }
  return count;
}

/**
 * The first field whose type the key may not read (see TYPE_SCOPES), through fragments, before
 * anything runs. Each field is checked on the type it returns: every object in an answer is
 * reached through a field returning its type, except where a fragment narrows an interface
 * (`node(id) { ... on Integration }`), which the node resolver checks on the loaded row instead,
 * so that a fragment that cannot match does not refuse the query.
 */
function unreadable(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, scopes: readonly Scope[]): GraphQLError | null {
  const typeInfo = new TypeInfo(schema);
  let violation: GraphQLError | null = null;
  const path: string[] = [];
  const check = (typeName: string, field: FieldNode) => {
    const needed = scopeOfType(typeName);
    if (violation || !needed || hasScopes(scopes, [needed])) return;
    violation = requestError(
      `This API key lacks the scope ${needed}, needed to read ${typeName} (at ${[...path, field.alias?.value ?? field.name.value].join('.')})`,
      'FORBIDDEN',
      { scope: needed, type: typeName },
    );
  };
  const visitor = visitWithTypeInfo(typeInfo, {
    Field: {
      enter(node) {
        if (node.name.value.startsWith('__')) return false;
        const def = typeInfo.getFieldDef();
        if (def) check(getNamedType(def.type).name, node);
        path.push(node.alias?.value ?? node.name.value);
        return undefined;
      },
      leave() {
        path.pop();
      },
    },
  });
  visit(operation, visitor);
  // Fragments on their own type condition (validation lets no fragment go unused).
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, visitor);
  }
  return violation;
}

/**
 * Every check an operation passes before any resolver runs, for HTTP and WebSocket alike:
 * variables that fit their types, no NUL character, at most `maxMutationFields` mutation fields,
 * a cost under `maxCost`, and nothing selected that the key's scopes may not read. The document
 * has already passed validation (depth limit included). Returns the first refusal, or null.
 */
export function guardOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  scopes: readonly Scope[],
  limits: GuardLimits,
): GraphQLError | null {
  const coercion = coerceVariables(schema, operation, variables);
  if (coercion) return coercion;
  const nul = nulCharacter(document, variables);
  if (nul) return nul;
  if (operation.operation === 'mutation') {
    const fragments = new Map(
      document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
    );
    const fields = countRootFields(operation.selectionSet, fragments);
    if (fields > limits.maxMutationFields) {
      return requestError(`A request may run at most ${limits.maxMutationFields} mutation fields; this one has ${fields}`, 'GRAPHQL_VALIDATION_FAILED', {
        mutationFields: fields,
        maxMutationFields: limits.maxMutationFields,
      });
    }
  }
  const cost = getComplexity({
    schema,
    query: document,
    operationName: operation.name?.value,
    variables,
    estimators: [estimator(schema)],
  });
  if (cost > limits.maxCost) {
    return requestError(`Query cost ${cost} is over the limit of ${limits.maxCost}; ask for smaller pages, fewer nested lists or fewer items`, 'GRAPHQL_VALIDATION_FAILED', {
      cost,
      maxCost: limits.maxCost,
    });
  }
  return unreadable(schema, document, operation, scopes);
}
