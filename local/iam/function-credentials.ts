import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpAgent, ClientRequest } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Which function's code is running: the logical id of its `AWS::Lambda::Function` in the
 * synthesized template, and its invocation's deadline. Set by the local runtime around each
 * invocation and each event source, inherited by every promise and timer the code starts.
 */
const runningFunction = new AsyncLocalStorage<RunningFunction>();

/** The function whose code is running, and until when its invocation may run (epoch ms). */
interface RunningFunction {
  logicalId: string;
  /** The invocation's deadline, from its context; none for an event source's own calls. */
  deadlineMs?: number;
  /** Set once the handler has answered: Lambda then freezes the execution environment. */
  returned?: boolean;
}

/**
 * Why a request of the running invocation may not leave, if it may not: past its deadline
 * (Lambda stops the invocation), or after its handler answered (Lambda freezes the environment
 * until its next invocation, if there is one: work left running then may run much later or
 * never, so locally it never does).
 */
function endedInvocation(running: RunningFunction | undefined): InvocationEndedError | undefined {
  if (!running) return undefined;
  if (running.returned) return new InvocationEndedError(running.logicalId, 'returned');
  if (running.deadlineMs !== undefined && Date.now() > running.deadlineMs) return new InvocationEndedError(running.logicalId, 'timeout');
  return undefined;
}

/**
 * Runs `handler` as the function `logicalId`: every AWS SDK call it makes, however deep and
 * through whichever shared module-scope client, leaves the process with access key id
 * `logicalId` (see {@link installFunctionCredentials}). The handler itself is unchanged.
 */
export function asFunction<Args extends unknown[], Result>(
  logicalId: string,
  handler: (...args: Args) => Result,
): (...args: Args) => Result {
  installFunctionCredentials();
  return (...args) => {
    const context = args[1] as { getRemainingTimeInMillis?: () => number } | undefined;
    const deadlineMs = typeof context?.getRemainingTimeInMillis === 'function' ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    const running: RunningFunction = { logicalId, deadlineMs };
    const result = runningFunction.run(running, () => handler(...args));
    if (!(result instanceof Promise)) {
      running.returned = true;
      return result;
    }
    return result.finally(() => {
      running.returned = true;
    }) as Result;
  };
}

/** The logical id of the function whose code is running, if any. */
export const runningFunctionId = (): string | undefined => runningFunction.getStore()?.logicalId;

/** Runs `work` (and everything it starts) as the function `logicalId`. */
export function runAsFunction<Result>(logicalId: string, work: () => Result): Result {
  installFunctionCredentials();
  return runningFunction.run({ logicalId }, work);
}

/** What an AWS call or POST made after its invocation's timeout or answer fails with: it never left the function. */
export class InvocationEndedError extends Error {
  constructor(logicalId: string, why: 'timeout' | 'returned' = 'timeout') {
    super(
      why === 'timeout'
        ? `${logicalId}: the invocation passed its timeout, where Lambda stops it; this request was not sent`
        : `${logicalId}: the invocation had already answered, and Lambda freezes its environment then (work left running resumes at a later invocation, or never); this request was not sent`,
    );
    this.name = 'InvocationEndedError';
  }
}

let installed = false;

/**
 * Makes the SDK's Node.js HTTP handler — the one every SDK v3 client uses in Node — rewrite the
 * access key id of the SigV4 `Authorization` header to the running function's logical id, just
 * before the request is sent. Outside a function (tests, tools) requests are left as signed.
 * The signature no longer matches, which the local AWS endpoint does not check. Idempotent.
 */
export function installFunctionCredentials(): void {
  if (installed) return;
  installed = true;
  const send = NodeHttpHandler.prototype.handle;
  // Any other HTTP request through an agent (the webhook client's POSTs): none leaves after the deadline, or the answer, either.
  const addRequest = (HttpAgent.prototype as unknown as { addRequest: (request: ClientRequest, ...rest: unknown[]) => void }).addRequest;
  (HttpAgent.prototype as unknown as { addRequest: typeof addRequest }).addRequest = function (this: HttpAgent, request, ...rest) {
    const error = endedInvocation(runningFunction.getStore());
    if (error) {
      // Never given a socket, so a destroy alone would not emit: the request fails as a refused connection would.
      process.nextTick(() => {
        request.destroy(error);
        request.emit('error', error);
        request.emit('close');
      });
      return;
    }
    return addRequest.call(this, request, ...rest);
  };
  NodeHttpHandler.prototype.handle = function handle(this: NodeHttpHandler, request, options) {
    const running = runningFunction.getStore();
    const logicalId = running?.logicalId;
    // Lambda stops an invocation at its timeout (its environment is reset): nothing the handler
    // still had running gets out. The local runtime can only stop waiting for the handler, so its
    // late AWS calls are refused here (before, a timed-out fan-out went on sending all its
    // deliveries, where on AWS it sends part; a fidelity audit).
    const ended = endedInvocation(running);
    if (ended) return Promise.reject(ended);
    const authorization = request.headers.authorization;
    if (logicalId && authorization) request.headers.authorization = withAccessKeyId(authorization, logicalId);
    return send.call(this, request, options);
  };
}

const CREDENTIAL = /Credential=([^/,\s]+)\//;

/** `authorization` with the access key id of its SigV4 credential scope replaced. */
export function withAccessKeyId(authorization: string, accessKeyId: string): string {
  return authorization.replace(CREDENTIAL, `Credential=${accessKeyId}/`);
}

/** The access key id of a SigV4 `Authorization` header, or undefined for an unsigned request. */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return authorization ? CREDENTIAL.exec(authorization)?.[1] : undefined;
}
