import type { Context } from 'aws-lambda';

/** Loads the observability module afresh with the given tracing setting. */
function loadWithTracing(enabled: string | undefined): typeof import('../../../lambdas/adapters/observability') {
  const previous = process.env.POWERTOOLS_TRACE_ENABLED;
  if (enabled === undefined) delete process.env.POWERTOOLS_TRACE_ENABLED;
  else process.env.POWERTOOLS_TRACE_ENABLED = enabled;
  try {
    let loaded: typeof import('../../../lambdas/adapters/observability') | undefined;
    jest.isolateModules(() => {
      loaded = jest.requireActual<typeof import('../../../lambdas/adapters/observability')>('../../../lambdas/adapters/observability');
    });
    return loaded!;
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_TRACE_ENABLED;
    else process.env.POWERTOOLS_TRACE_ENABLED = previous;
  }
}

const context = { functionName: 'test', awsRequestId: 'r1', getRemainingTimeInMillis: () => 1000 } as unknown as Context;

describe('tracing', () => {
  test.each([undefined, 'false', 'TRUE', '1'])('is off unless POWERTOOLS_TRACE_ENABLED is exactly "true" (%s)', (value) => {
    const observability = loadWithTracing(value);
    expect(observability.tracer).toBeUndefined();
    const client = { send: jest.fn(), middlewareStack: { remove: jest.fn(() => true), add: jest.fn() } };
    expect(observability.sdkClient(client)).toBe(client);
  });

  test('is on with "true": the Powertools tracer exists and a handler still runs through it', async () => {
    const observability = loadWithTracing('true');
    expect(observability.tracer).toBeDefined();
    const handler = observability.instrument(async (event: { n: number }) => event.n + 1, { metrics: false });
    await expect(handler({ n: 1 }, context)).resolves.toBe(2);
  });
});

describe('sdkClient', () => {
  test("takes the SDK's logger middleware off a real client, limits its calls at once, and its commands still resolve", async () => {
    const { sdkClient } = loadWithTracing('false');
    const { SQSClient, GetQueueUrlCommand } = await import('@aws-sdk/client-sqs');
    const client = sdkClient(new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
    const names = () => client.middlewareStack.identify().map((entry) => entry.split(' ')[0]);
    expect(names()).not.toContain('loggerMiddleware');
    expect(names()).toContain('callsAtOnceMiddleware');
    expect(new SQSClient({ region: 'us-east-1' }).middlewareStack.identify().map((entry) => entry.split(' ')[0])).toContain('loggerMiddleware');
    // Answered before it leaves the process: what is asserted is the stack without the logger.
    client.middlewareStack.add(() => async () => ({ output: { QueueUrl: 'q', $metadata: {} }, response: {} }) as never, { step: 'finalizeRequest' });
    await expect(client.send(new GetQueueUrlCommand({ QueueName: 'q' }))).resolves.toMatchObject({ QueueUrl: 'q' });
  });
});

describe('instrument', () => {
  test('passes the event through and returns what the handler returns', async () => {
    const { instrument } = loadWithTracing('false');
    const handler = instrument(async (event: { n: number }) => ({ doubled: event.n * 2 }), { metrics: false });
    await expect(handler({ n: 21 }, context)).resolves.toEqual({ doubled: 42 });
  });

  test('lets a handler error through, so the runtime sees the invocation fail', async () => {
    const { instrument } = loadWithTracing('false');
    const handler = instrument(async () => {
      throw new Error('boom');
    }, { metrics: false });
    await expect(handler({}, context)).rejects.toThrow('boom');
  });
});

describe('metrics at the end of an invocation', () => {
  test('published when the invocation recorded some, after success and after an error', async () => {
    const observability = loadWithTracing('false');
    const publish = jest.spyOn(observability.metrics, 'publishStoredMetrics');
    const counting = observability.instrument(async () => observability.metrics.addMetric('Delivered', 'Count', 1));
    await counting({}, context);
    expect(publish).toHaveBeenCalledTimes(1);
    const failing = observability.instrument(async () => {
      observability.metrics.addMetric('Failed', 'Count', 1);
      throw new Error('boom');
    });
    await expect(failing({}, context)).rejects.toThrow('boom');
    expect(publish).toHaveBeenCalledTimes(2);
    expect(observability.metrics.hasStoredMetrics()).toBe(false);
  });

  test('an invocation that recorded none logs no "No application metrics" warning and leaves no dimension behind', async () => {
    const observability = loadWithTracing('false');
    const warn = jest.spyOn(observability.logger, 'warn');
    const publish = jest.spyOn(observability.metrics, 'publishStoredMetrics');
    const quiet = observability.instrument(async () => observability.metrics.addDimension('lane', 'slow'));
    await quiet({}, context);
    expect(warn).not.toHaveBeenCalled();
    expect(publish).not.toHaveBeenCalled();
    // The next invocation's metrics do not carry the dimension the quiet one added.
    observability.metrics.addMetric('Delivered', 'Count', 1);
    const emf = observability.metrics.serializeMetrics();
    observability.metrics.clearMetrics();
    expect(emf._aws.CloudWatchMetrics[0]!.Dimensions.flat()).not.toContain('lane');
    expect(emf._aws.CloudWatchMetrics[0]!.Dimensions.flat()).toContain('service');
  });
});
