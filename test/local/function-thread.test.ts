import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { localLambdaContext } from '../../local/lambda-context';
import { FunctionThread, startFunctionThread } from '../../local/runtime/function-thread';

const entry = 'test/local/fixtures/thread-handlers.ts';
let thread: FunctionThread;

beforeAll(async () => {
  process.env.THREAD_TEST_SETTING = 'from the parent';
  thread = await startFunctionThread(['echo', 'fail', 'crash'].map((name) => ({ logicalId: name, entry, exportName: name })));
});
afterAll(() => thread.stop());

const call = (name: string, event: unknown = {}, context: Context = localLambdaContext(name, 30)) => thread.handlers.get(name)!(event, context);

test('an invocation runs in another thread, with the event, the context and the environment the parent had', async () => {
  const answer = (await call('echo', { Records: [{ body: 'é🙂' }] })) as Record<string, unknown>;
  expect(answer.threadId).not.toBe(threadId);
  expect(answer.event).toEqual({ Records: [{ body: 'é🙂' }] });
  expect(answer.functionName).toBe('echo');
  expect(answer.remainingMs).toBeGreaterThan(25_000);
  expect(answer.remainingMs).toBeLessThanOrEqual(30_000);
  expect(answer.setting).toBe('from the parent');
});

test("a handler's error comes back with its name and message", async () => {
  await expect(call('fail')).rejects.toMatchObject({ name: 'PurposefulError', message: 'refused on purpose' });
});

test('a thread that dies fails the invocation it was running, and the next invocation gets a new thread', async () => {
  await expect(call('crash')).rejects.toThrow('crashed on purpose');
  const answer = (await call('echo')) as Record<string, unknown>;
  expect(answer.setting).toBe('from the parent');
});

test('a thread that dies while starting again is started anew at the next invocation, as Lambda retries a failed init', async () => {
  const marker = path.join(mkdtempSync(path.join(tmpdir(), 'thread-')), 'fail-next-load');
  process.env.THREAD_TEST_FAIL_LOAD_ONCE = marker;
  const restarting = await startFunctionThread(['echo', 'crash'].map((name) => ({ logicalId: name, entry, exportName: name })));
  try {
    writeFileSync(marker, '');
    const invoke = (name: string) => restarting.handlers.get(name)!({}, localLambdaContext(name, 30));
    await expect(invoke('crash')).rejects.toThrow('crashed on purpose');
    await expect(invoke('echo')).rejects.toThrow('failed to load on purpose');
    await expect(invoke('echo')).resolves.toMatchObject({ functionName: 'echo' });
  } finally {
    delete process.env.THREAD_TEST_FAIL_LOAD_ONCE;
    await restarting.stop();
  }
});

test('a handler that does not load stops the start, naming the export', async () => {
  await expect(startFunctionThread([{ logicalId: 'Missing', entry, exportName: 'missing' }])).rejects.toThrow(
    `${entry} has no function export missing (function Missing)`,
  );
});

test('after stop, an invocation is refused', async () => {
  const stopped = await startFunctionThread([{ logicalId: 'echo', entry, exportName: 'echo' }]);
  await stopped.stop();
  await expect(stopped.handlers.get('echo')!({}, localLambdaContext('echo', 30))).rejects.toThrow('the local stack has stopped');
});
