import { createHash } from 'node:crypto';
import * as z from 'zod';
import { UnauthenticatedError } from '../core/errors';

/** Tiledesk could not say who the caller is: it is down, slow or answers something unexpected (503). */
export class TiledeskUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TiledeskUnavailableError';
  }
}

/** How the membership lookup talks to Tiledesk and keeps its answers. */
export interface ProjectRoleLookupOptions {
  /** How long an answer is reused. @default 60 s */
  ttlMs?: number;
  /** Per-request timeout. @default 3 s */
  timeoutMs?: number;
  /** Most answers kept; the oldest go first. @default 1000 */
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The caller's role in a project, as Tiledesk's `GET /{projectId}/project_users/me` says. */
export interface ProjectRoleLookup {
  /**
   * Tiledesk's role name (`owner`, `admin`, `agent`, …), or `undefined` when the caller is not
   * an active member of the project. Throws {@link UnauthenticatedError} when Tiledesk refuses
   * the token and {@link TiledeskUnavailableError} when it cannot answer; neither is kept.
   */
  roleOf(token: string, projectId: string): Promise<string | undefined>;
}

/**
 * Tiledesk answers `/me` with the caller's project_user in an array (`routes/project_user.js`:
 * `res.json([pu])`); `role` and `status` are the fields read.
 */
const projectUserSchema = z.looseObject({ role: z.string().optional(), status: z.string().optional() });
const meAnswerSchema = z.union([z.array(projectUserSchema), projectUserSchema]);

/** A lookup against Tiledesk's API at `apiUrl`; create one per container so the cache is shared. */
export function createProjectRoleLookup(apiUrl: string, options: ProjectRoleLookupOptions = {}): ProjectRoleLookup {
  const base = apiUrl.replace(/\/+$/, '');
  const ttlMs = options.ttlMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxEntries = options.maxEntries ?? 1000;
  const now = options.now ?? Date.now;
  const answers = new Map<string, { role: string | undefined; at: number }>();

  return {
    async roleOf(token, projectId) {
      // The token is a credential: the cache key holds its hash only.
      const key = `${createHash('sha256').update(token).digest('base64url')}:${projectId}`;
      const kept = answers.get(key);
      if (kept && now() - kept.at < ttlMs) return kept.role;
      const role = await fetchRole(`${base}/${encodeURIComponent(projectId)}/project_users/me`, token, timeoutMs);
      answers.delete(key);
      answers.set(key, { role, at: now() });
      if (answers.size > maxEntries) answers.delete(answers.keys().next().value as string);
      return role;
    },
  };
}

async function fetchRole(url: string, token: string, timeoutMs: number): Promise<string | undefined> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { authorization: `JWT ${token}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    throw new TiledeskUnavailableError(
      name === 'TimeoutError' ? `Tiledesk did not answer within ${timeoutMs} ms` : `Tiledesk unreachable: ${String(error)}`,
    );
  }
  if (response.status === 401) throw new UnauthenticatedError('Tiledesk refused the token');
  // 403: not a member (or a role Tiledesk refuses on /me); 404: no such project.
  if (response.status === 403 || response.status === 404) return undefined;
  if (!response.ok) throw new TiledeskUnavailableError(`Tiledesk answered ${response.status} to project_users/me`);
  let parsed: z.infer<typeof meAnswerSchema>;
  try {
    parsed = meAnswerSchema.parse(JSON.parse(text));
  } catch {
    throw new TiledeskUnavailableError('Tiledesk answered project_users/me with something else than a project user');
  }
  const projectUser = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!projectUser || projectUser.status === 'disabled') return undefined;
  return projectUser.role;
}
