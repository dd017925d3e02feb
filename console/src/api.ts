import { createClient, type Client } from 'graphql-ws';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { TypedDocumentString } from './generated/graphql';

/**
 * The API key lives in sessionStorage: it survives a reload of this tab, ends with the browser
 * session, and never reaches localStorage, a URL or a log. GraphiQL reads the same entry.
 */
const KEY_ENTRY = 'switchboard.apiKey';

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY_ENTRY),
  set: (key: string) => sessionStorage.setItem(KEY_ENTRY, key),
  clear: () => {
    sessionStorage.removeItem(KEY_ENTRY);
    wsClient?.dispose();
    wsClient = null;
  },
};

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type GraphQLBody<T> = { data?: T | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };

/** One operation over HTTP POST to the gateway's own /graphql. */
export async function request<T, V>(doc: TypedDocumentString<T, V>, variables?: V): Promise<T> {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
      authorization: `Bearer ${apiKey.get() ?? ''}`,
    },
    body: JSON.stringify({ query: doc.toString(), variables }),
  });
  const body = (await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }))) as GraphQLBody<T>;
  if (body.errors?.length) throw new ApiError(body.errors.map((e) => e.message).join('; '), body.errors[0].extensions?.code);
  if (!body.data) throw new ApiError(`HTTP ${res.status} without data`, undefined);
  return body.data;
}

let wsClient: Client | null = null;

/** One graphql-ws connection per signed-in key, opened on the first subscription. */
function subscriptions(): Client {
  if (!wsClient) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    wsClient = createClient({
      url: `${scheme}://${location.host}/graphql`,
      lazy: true,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      connectionParams: () => ({ authorization: `Bearer ${apiKey.get() ?? ''}` }),
    });
  }
  return wsClient;
}

/** Subscribes while mounted; `onData` gets each event. */
export function useSubscription<T, V>(doc: TypedDocumentString<T, V>, variables: V, onData: (data: T) => void, enabled = true): void {
  const handler = useRef(onData);
  handler.current = onData;
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (!enabled) return;
    return subscriptions().subscribe<T>(
      { query: doc.toString(), variables: variables as Record<string, unknown> },
      {
        next: (value) => value.data && handler.current(value.data as T),
        error: () => undefined,
        complete: () => undefined,
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [doc, key, enabled]);
}

export interface QueryState<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs the query on mount and whenever the variables change; `reload` runs it again. */
export function useQuery<T, V>(doc: TypedDocumentString<T, V>, variables: V, enabled = true): QueryState<T> & { setData: (f: (d: T) => T) => void } {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: enabled });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    request(doc, variables).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: ApiError) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [doc, key, tick, enabled]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((f: (d: T) => T) => setState((s) => (s.data ? { ...s, data: f(s.data) } : s)), []);
  return { ...state, reload, setData };
}

/** A mutation with its pending flag and last error, for buttons. */
export function useMutation<T, V>(doc: TypedDocumentString<T, V>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async (variables: V): Promise<T | null> => {
      setPending(true);
      setError(null);
      try {
        return await request(doc, variables);
      } catch (err) {
        setError((err as Error).message);
        return null;
      } finally {
        setPending(false);
      }
    },
    [doc],
  );
  return { run, pending, error };
}
