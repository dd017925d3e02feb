import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** Client-side routes under /console; the gateway answers every /console/* path with the page. */
export const BASE = '/console';

export function navigate(path: string): void {
  history.pushState(null, '', `${BASE}${path}`);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The path below /console ("/jobs/abc"), and the query string. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const read = () => ({ path: location.pathname.slice(BASE.length) || '/', search: new URLSearchParams(location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return loc;
}

/** An ordinary link (keyboard, middle click, copy address all work) that routes in the page. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={`${BASE}${to}`} onClick={onClick} {...rest} />;
}
