import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { StrictMode, useMemo, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { apiKey } from './api';
import './monaco-workers';
import './graphiql.css';

/** The API key is asked once per browser session (sessionStorage, shared with the console). */
function KeyForm({ onKey }: { onKey: () => void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    apiKey.set(value.trim());
    onKey();
  };
  return (
    <form className="graphiql-key" onSubmit={submit} autoComplete="off">
      <h1>Switchboard GraphiQL</h1>
      <p>Paste an API key. It is kept for this browser session only and sent only to this gateway.</p>
      <label htmlFor="api-key">API key</label>
      <input id="api-key" type="password" value={value} onChange={(e) => setValue(e.target.value)} autoFocus spellCheck={false} />
      <button type="submit">Open GraphiQL</button>
    </form>
  );
}

/** The operation a request runs: the named one, or the only one when the name is stale. */
function selectedOperation(query: string, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  let operations: OperationDefinitionNode[];
  try {
    operations = parse(query).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  } catch {
    return undefined;
  }
  return operations.find((o) => operationName && o.name?.value === operationName) ?? (operations.length === 1 ? operations[0] : undefined);
}

/**
 * Queries and mutations over HTTP POST, subscriptions over graphql-ws, both with the session's
 * key. The operation is read from the text sent: GraphiQL can send the previous tab's
 * operation name with a new anonymous operation, which the server would refuse.
 */
function createFetcher(): Fetcher {
  const authorization = `Bearer ${apiKey.get() ?? ''}`;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const http = createGraphiQLFetcher({ url: `${location.origin}/graphql`, headers: { authorization } });
  const ws = createClient({ url: `${scheme}://${location.host}/graphql`, lazy: true, connectionParams: { authorization } });
  return (params, options) => {
    const operation = selectedOperation(params.query, params.operationName);
    const operationName = operation?.name?.value ?? (operation ? undefined : params.operationName) ?? undefined;
    if (operation?.operation === 'subscription') {
      // Results off the wire carry formatted errors; GraphiQL only displays them.
      return ws.iterate({ query: params.query, variables: params.variables ?? undefined, operationName }) as unknown as ReturnType<Fetcher>;
    }
    return http({ ...params, operationName: operationName ?? null }, options);
  };
}

function Explorer() {
  const fetcher = useMemo(createFetcher, []);
  return <GraphiQL fetcher={fetcher} shouldPersistHeaders={false} defaultQuery={'query Integrations {\n  integrations(first: 10) {\n    edges { node { id name provider status circuit } }\n  }\n}\n'} />;
}

function Root() {
  const [hasKey, setHasKey] = useState(() => !!apiKey.get());
  return hasKey ? <Explorer /> : <KeyForm onKey={() => setHasKey(true)} />;
}

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
