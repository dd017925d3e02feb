import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
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

function Explorer() {
  const fetcher = useMemo(() => {
    const authorization = `Bearer ${apiKey.get() ?? ''}`;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return createGraphiQLFetcher({
      url: `${location.origin}/graphql`,
      headers: { authorization },
      wsClient: createClient({ url: `${scheme}://${location.host}/graphql`, lazy: true, connectionParams: { authorization } }),
    });
  }, []);
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
