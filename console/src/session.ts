import type { Session } from './api';

/**
 * The token lives in this tab's sessionStorage only: never in a URL that reaches a server
 * (a `#token=` sign-in link is a fragment, which browsers do not send, and it is removed from
 * the address bar at once), never in localStorage or a cookie.
 */
const KEY = 'tiledesk-webhooks.session';

export function loadSession(): Session | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return saved?.token && saved.projectId ? saved : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** Reads `#token=…&project=…` once and wipes it from the address bar and history entry. */
export function takeFragmentSignIn(): { token?: string; projectId?: string } {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = fragment.get('token') ?? undefined;
  const projectId = fragment.get('project') ?? undefined;
  if (token || projectId) history.replaceState(null, '', location.pathname + location.search);
  return { token, projectId };
}

/** What the token says about itself (unverified: the API decides), for choosing a project. */
export interface TokenClaims {
  projects: Record<string, string>;
  platform: boolean;
  exp?: number;
}

export function readClaims(token: string): TokenClaims | undefined {
  const payload = token.replace(/^(bearer|jwt)\s+/i, '').split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { projects?: Record<string, string>; platform?: boolean; exp?: number };
    return { projects: claims.projects ?? {}, platform: claims.platform === true, exp: claims.exp };
  } catch {
    return undefined;
  }
}

/** The projects the token can manage (owner or admin), by its claims. */
export const managedProjects = (claims: TokenClaims | undefined): string[] =>
  Object.entries(claims?.projects ?? {})
    .filter(([, role]) => role === 'owner' || role === 'admin')
    .map(([project]) => project);
