import { lazy, StrictMode, Suspense, useEffect, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { apiKey, ApiError, request } from './api';
import { ConsoleAccessDocument } from './generated/graphql';
import { Link, useLocation } from './router';
import './styles.css';

// Each page is its own chunk: the first load carries the shell and the page asked for.
const loaders = {
  overview: () => import('./pages/overview'),
  jobs: () => import('./pages/jobs'),
  logs: () => import('./pages/logs'),
  webhooks: () => import('./pages/webhooks'),
  syncs: () => import('./pages/syncs'),
  integrations: () => import('./pages/integrations'),
  rehydrate: () => import('./pages/rehydrate'),
  alerts: () => import('./pages/alerts'),
};
const pages = Object.fromEntries(Object.entries(loaders).map(([name, load]) => [name, lazy(load)])) as {
  [K in keyof typeof loaders]: ReturnType<typeof lazy<Awaited<ReturnType<(typeof loaders)[K]>>['default']>>;
};
type PageName = keyof typeof pages;

const NAV: Array<[PageName, string, string]> = [
  ['overview', '/', 'Overview'],
  ['jobs', '/jobs', 'Jobs'],
  ['logs', '/logs', 'Logs'],
  ['webhooks', '/webhooks', 'Webhook events'],
  ['syncs', '/syncs', 'Sync runs'],
  ['integrations', '/integrations', 'Integrations'],
  ['rehydrate', '/rehydrate', 'Rehydrate'],
  ['alerts', '/alerts', 'Alerts'],
];

function pageFor(path: string): PageName {
  const first = path.split('/')[1] ?? '';
  return NAV.find(([, p]) => p === `/${first}`)?.[0] ?? 'overview';
}

type Access = 'none' | 'checking' | 'operator' | 'denied';

/** The key check, started before React renders; with a key, the first page's chunk loads meanwhile. */
let firstCheck: Promise<unknown> | null = null;
if (apiKey.get()) {
  firstCheck = request(ConsoleAccessDocument, {});
  // Handled when the app reads it; this keeps an early refusal from counting as unhandled.
  firstCheck.catch(() => undefined);
  void loaders[pageFor(location.pathname.slice('/console'.length) || '/')]();
}

function SignIn({ onSignedIn, message }: { onSignedIn: () => void; message: string | null }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    apiKey.set(value.trim());
    setValue('');
    onSignedIn();
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title" autoComplete="off">
        <h1 id="signin-title">Switchboard console</h1>
        <p>Paste an OPERATOR or ADMIN API key. It is kept for this browser tab only and sent only to this gateway.</p>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" value={value} onChange={(e) => setValue(e.target.value)} autoFocus spellCheck={false} />
        <button type="submit">Sign in</button>
        {message && (
          <p role="alert" className="error">
            {message}
          </p>
        )}
      </form>
    </main>
  );
}

function App() {
  const [access, setAccess] = useState<Access>(apiKey.get() ? 'checking' : 'none');
  const [message, setMessage] = useState<string | null>(null);
  const { path } = useLocation();

  useEffect(() => {
    if (access !== 'checking') return;
    const check = firstCheck ?? request(ConsoleAccessDocument, {});
    firstCheck = null;
    check.then(
      () => setAccess('operator'),
      (err: ApiError) => {
        if (err.code === 'FORBIDDEN') {
          setAccess('denied');
        } else {
          apiKey.clear();
          setMessage(err.code === 'UNAUTHENTICATED' ? 'That key is unknown, revoked or expired.' : err.message);
          setAccess('none');
        }
      },
    );
  }, [access]);

  const signOut = () => {
    apiKey.clear();
    setMessage(null);
    setAccess('none');
  };

  if (access === 'none') return <SignIn message={message} onSignedIn={() => setAccess('checking')} />;
  if (access === 'checking')
    return (
      <main className="signin" aria-busy="true">
        <p>Checking the key…</p>
      </main>
    );
  if (access === 'denied')
    return (
      <main className="signin">
        <div role="alert" className="denied">
          <h1>No operator access</h1>
          <p>This key's role (APP or PARTNER) cannot use the operator console. Sign in with an OPERATOR or ADMIN key.</p>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </main>
    );

  const current = pageFor(path);
  const Current = pages[current];
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav aria-label="Console">
        <span className="brand">Switchboard</span>
        <ul>
          {NAV.map(([name, to, label]) => (
            <li key={name}>
              <Link to={to} aria-current={name === current ? 'page' : undefined}>
                {label}
              </Link>
            </li>
          ))}
          <li>
            <a href="/graphiql">GraphiQL</a>
          </li>
        </ul>
        <button type="button" className="signout" onClick={signOut}>
          Sign out
        </button>
      </nav>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="loading">Loading…</p>}>
          <Current path={path} />
        </Suspense>
      </main>
    </div>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
