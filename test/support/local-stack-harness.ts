import { randomBytes } from 'node:crypto';
import { Role, signToken } from '../../lambdas/core/token';
import { LocalStack, LocalStackOptions, startLocalStack } from '../../local/local-stack';

/** A local stack for one test file, with helpers to call its API. */
export interface TestStack {
  stack: LocalStack;
  jwtSecret: string;
  /** A token for a user with `role` on each of `projects`. */
  tokenFor(projects: Record<string, Role>, sub?: string): string;
  platformToken(): string;
  /**
   * Declares that the running test provokes event-source errors (a fan-out or delivery invocation
   * that throws) matching `expected`; any other error still fails the test. Lasts until the
   * test ends. Returns the errors seen so far in this test that matched, for assertions.
   */
  expectHandlerErrors(expected: RegExp | ((error: unknown) => boolean)): { readonly errors: readonly unknown[] };
  /**
   * Throws if an event source reported an error that no `expectHandlerErrors` covered since the
   * last check, and forgets them; the harness runs it after each test (ending the test's
   * declaration) and in `stop()`.
   */
  checkHandlerErrors(): void;
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

/** Tracks a stack's event-source errors against what the running test declared. */
class HandlerErrorLedger {
  private unexpected: unknown[] = [];
  private expected?: { matches: (error: unknown) => boolean; errors: unknown[] };

  record(error: unknown): void {
    if (this.expected?.matches(error)) this.expected.errors.push(error);
    else this.unexpected.push(error);
  }

  expect(expected: RegExp | ((error: unknown) => boolean)): { readonly errors: readonly unknown[] } {
    if (expect.getState().currentTestName === undefined) {
      throw new Error('expectHandlerErrors() belongs inside the test that provokes the errors');
    }
    const matches = typeof expected === 'function' ? expected : (error: unknown) => expected.test(describeError(error));
    this.expected = { matches, errors: [] };
    return this.expected;
  }

  /** Ends the running test's declaration, then checks. */
  endTest(): void {
    this.expected = undefined;
    this.check();
  }

  check(): void {
    const unexpected = this.unexpected;
    this.unexpected = [];
    if (unexpected.length === 0) return;
    throw new Error(
      `${unexpected.length} event source error(s) that the test did not declare with expectHandlerErrors() ` +
        '(raised during this test, or late from the pipeline of one before it):\n' +
        unexpected.map((error) => `  - ${describeError(error)}`).join('\n'),
    );
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The stacks started in this test file; each is checked after every test. */
const ledgers = new Set<HandlerErrorLedger>();
// Registered once per test file, at import, because jest refuses hooks declared inside a hook.
if (typeof afterEach === 'function') {
  afterEach(() => {
    for (const ledger of ledgers) ledger.endTest();
  });
}

/**
 * Starts the real local stack (dynalite, fauxqs, the handler modules) on free ports. Handlers
 * read their configuration at import, so each test file gets one stack and its own options.
 * An error of the in-process event sources (a fan-out or delivery invocation that threw) fails
 * the test it happened in, after the test, unless the test called `expectHandlerErrors`.
 */
export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const jwtSecret = randomBytes(24).toString('hex');
  const ledger = new HandlerErrorLedger();
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    ...options,
    // The per-tenant request limits are off unless a test sets them: most test files call one
    // project far faster than a tenant may (test/e2e/request-limits.test.ts tests the limits).
    environment: { PROJECT_API_LIMIT: '0', PROJECT_EVENTS_LIMIT: '0', INGEST_SOURCE_LIMIT: '0', ...options.environment },
    onError: (error) => {
      ledger.record(error);
      options.onError?.(error);
    },
  });
  ledgers.add(ledger);
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
    expectHandlerErrors: (expected) => ledger.expect(expected),
    checkHandlerErrors: () => ledger.check(),
    async stop() {
      ledgers.delete(ledger);
      await stack.stop();
      // Errors after the last test (or in a file's beforeAll/afterAll) fail the file here.
      ledger.endTest();
    },
  };
}
