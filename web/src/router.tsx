import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

// Client-side routes without a router library: pushState, and a popstate listener. The server
// answers every such path with index.html, so a route can be reloaded or shared.

const navigateEvent = "switchboard:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(navigateEvent, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(navigateEvent, onChange);
  };
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  // The query string (the protocol choice) stays with the tab as it moves between pages.
  const url = `${path}${window.location.search}`;
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(navigateEvent));
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; current?: boolean };

/** An <a> that navigates in place; modified clicks (new tab, …) keep the browser's behaviour. */
export function Link({ to, current, onClick, ...rest }: LinkProps) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} aria-current={current ? "page" : undefined} onClick={handle} {...rest} />;
}
