import { randomBytes } from 'node:crypto';
import { Role, signToken } from '../../lambdas/core/token';
import { LocalStack, LocalStackOptions, startLocalStack } from '../../lib/local/local-stack';

/** A local stack for one test file, with helpers to call its API. */
export interface TestStack {
  stack: LocalStack;
  jwtSecret: string;
  /** A token for a user with `role` on each of `projects`. */
  tokenFor(projects: Record<string, Role>, sub?: string): string;
  platformToken(): string;
  /** Calls the API; `token` null sends no Authorization header. */
  api(method: string, path: string, options?: { token?: string | null; body?: unknown; rawBody?: string }): Promise<ApiReply>;
  stop(): Promise<void>;
}

export interface ApiReply {
  status: number;
  headers: Headers;
  // Test code reads whatever the API answered; each test asserts the shape it expects.
  body: Record<string, unknown> & { [key: string]: unknown };
  text: string;
}

/**
 * Starts the real local stack (dynalite, fauxqs, the handler modules) on free ports. Handlers
 * read their configuration at import, so each test file gets one stack and its own options.
 */
export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const jwtSecret = randomBytes(24).toString('hex');
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    onError: (error) => console.error('local stack event source error', error),
    ...options,
  });
  const defaultToken = signToken({ sub: 'test-admin', projects: {} }, jwtSecret);
  return {
    stack,
    jwtSecret,
    tokenFor: (projects, sub = 'test-user') => signToken({ sub, projects }, jwtSecret),
    platformToken: () => signToken({ sub: 'tiledesk-platform', platform: true }, jwtSecret),
    async api(method, path, { token = defaultToken, body, rawBody } = {}) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined || rawBody !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers,
        body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await response.text();
      let parsed: ApiReply['body'] = {};
      try {
        parsed = text ? (JSON.parse(text) as ApiReply['body']) : {};
      } catch {
        parsed = {};
      }
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
    stop: () => stack.stop(),
  };
}
