import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { FunctionModel } from '../template/stack-model';

/** What the thread needs to load a function's handler. */
export type ThreadedFunction = Pick<FunctionModel, 'logicalId' | 'entry' | 'exportName'>;

/** An invocation sent to the thread: the event, and the context's fields with its deadline. */
export interface ThreadInvocation {
  id: number;
  logicalId: string;
  event: unknown;
  context: { functionName: string; awsRequestId: string; memoryLimitInMB: string; deadline: number };
}

/** What the thread posts back. */
export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'load-failed'; error: ThreadError }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: ThreadError };

export interface ThreadError {
  name: string;
  message: string;
  stack?: string;
}

/** The functions run in the thread, by logical id, each called as a handler of the main thread. */
export interface FunctionThread {
  handlers: ReadonlyMap<string, (event: unknown, context: Context) => Promise<unknown>>;
  stop(): Promise<void>;
}

const WORKER_ENTRY = path.join(__dirname, 'function-thread-worker.mjs');
/**
 * Node's AsyncLocalStorage without a promise hook: on Node 22 every promise otherwise pays for
 * one once a store is in use (Node 24 makes this the default). The npm scripts that run the
 * stack pass it to the main thread too.
 */
const ASYNC_CONTEXT_FRAME = '--experimental-async-context-frame';

/**
 * Starts `functions` in a worker thread of their own, as Lambda gives each invocation a CPU of
 * its own rather than the local endpoint's and pollers' event loop. The thread takes the
 * process's environment as it is now (the handlers read their settings at import) and loads
 * the handlers before this resolves; a handler's error comes back with its name and message.
 * A thread that dies (an error outside any invocation) fails the invocations it was running
 * and is started again at the next one, as Lambda replaces a crashed execution environment.
 */
export async function startFunctionThread(functions: readonly ThreadedFunction[]): Promise<FunctionThread> {
  let current: Promise<Worker> | undefined;
  let stopped = false;
  let nextId = 0;
  // Each thread's own invocations in flight: a dead thread fails its own, not its successor's.
  const pendingOf = new WeakMap<Worker, Map<number, PendingCall>>();

  const start = (): Promise<Worker> => {
    const starting = new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(WORKER_ENTRY, {
        workerData: { functions: functions.map(({ logicalId, entry, exportName }) => ({ logicalId, entry, exportName })) },
        // The thread registers its own TypeScript loader; the parent's flags (tsx, jest's) are not
        // for it. Its AsyncLocalStorage (which function is calling AWS: local/iam) rides V8's
        // continuation data instead of a promise hook on every promise (docs/design.md §3.9).
        execArgv: [ASYNC_CONTEXT_FRAME],
        // This module's view of the environment (jest gives each test file a copy of its own).
        env: { ...process.env },
      });
      const pending = new Map<number, PendingCall>();
      pendingOf.set(worker, pending);
      let ready = false;
      // Only this thread's own promise is forgotten (its exit can come after the next thread
      // started), whether it died running or starting: the next invocation starts another, as
      // Lambda retries a failed init at the next invoke.
      const forget = (): void => {
        if (current === starting) current = undefined;
      };
      worker.on('message', (message: ThreadMessage) => {
        if (message.type === 'ready') {
          ready = true;
          resolve(worker);
        } else if (message.type === 'load-failed') {
          forget();
          reject(revive(message.error));
          // tsx's loader keeps the thread alive: without this a failed start would keep the process running.
          void worker.terminate();
        } else {
          const call = pending.get(message.id);
          if (!call) return;
          pending.delete(message.id);
          if (message.type === 'result') call.resolve(message.value);
          else call.reject(revive(message.error));
        }
      });
      const died = (error: Error): void => {
        forget();
        if (!ready) reject(error);
        failAll(pending, error);
      };
      worker.on('error', died);
      worker.on('exit', (code) => {
        if (!stopped) died(new Error(`the functions' thread exited (code ${code})`));
      });
    });
    return starting;
  };

  current = start();
  await current;

  const invoke = async (logicalId: string, event: unknown, context: Context): Promise<unknown> => {
    if (stopped) throw new Error('the local stack has stopped');
    const worker = await (current ??= start());
    const id = nextId++;
    const message: ThreadInvocation = {
      id,
      logicalId,
      event,
      context: {
        functionName: context.functionName,
        awsRequestId: context.awsRequestId,
        memoryLimitInMB: context.memoryLimitInMB,
        deadline: Date.now() + context.getRemainingTimeInMillis(),
      },
    };
    return new Promise((resolve, reject) => {
      pendingOf.get(worker)!.set(id, { resolve, reject });
      worker.postMessage(message);
    });
  };

  return {
    handlers: new Map(functions.map((fn) => [fn.logicalId, (event: unknown, context: Context) => invoke(fn.logicalId, event, context)])),
    stop: async () => {
      stopped = true;
      const worker = await current?.catch(() => undefined);
      current = undefined;
      await worker?.terminate();
      if (worker) failAll(pendingOf.get(worker)!, new Error('the local stack has stopped'));
    },
  };
}

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

function failAll(pending: Map<number, PendingCall>, error: Error): void {
  for (const call of pending.values()) call.reject(error);
  pending.clear();
}

/** An Error of the main thread with the thread's name, message and stack. */
function revive(error: ThreadError): Error {
  return Object.assign(new Error(error.message), { name: error.name, stack: error.stack ?? `${error.name}: ${error.message}` });
}
