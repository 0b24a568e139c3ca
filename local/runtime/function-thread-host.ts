import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { asFunction } from '../iam/function-credentials';
import { localLambdaContext } from '../lambda-context';
import { loadHandler } from './function-runtime';
import type { ThreadedFunction, ThreadError, ThreadInvocation, ThreadMessage } from './function-thread';

/** The thread's side of function-thread.ts: loads the handlers, then runs invocations. */
async function host(): Promise<void> {
  const port = parentPort!;
  const post = (message: ThreadMessage): void => port.postMessage(message);
  const handlers = new Map<string, (event: unknown, context: Context) => unknown>();
  try {
    for (const fn of (workerData as { functions: ThreadedFunction[] }).functions) {
      handlers.set(fn.logicalId, asFunction(fn.logicalId, await loadHandler<(event: unknown, context: Context) => unknown>(fn)));
    }
  } catch (error) {
    post({ type: 'load-failed', error: plain(error) });
    return;
  }
  port.on('message', (invocation: ThreadInvocation) => {
    const { id, logicalId, event, context: fields } = invocation;
    const context: Context = {
      ...localLambdaContext(fields.functionName, 0),
      awsRequestId: fields.awsRequestId,
      memoryLimitInMB: fields.memoryLimitInMB,
      getRemainingTimeInMillis: () => Math.max(0, fields.deadline - Date.now()),
    };
    Promise.resolve()
      .then(() => handlers.get(logicalId)!(event, context))
      .then(
        (value) => post({ type: 'result', id, value }),
        (error: unknown) => post({ type: 'error', id, error: plain(error) }),
      );
  });
  post({ type: 'ready' });
}

function plain(error: unknown): ThreadError {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: 'Error', message: String(error) };
}

void host();
