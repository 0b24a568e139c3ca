import type { SQSEvent } from 'aws-lambda';

/*
 * The rule reads nothing of an event (its target sets no message group: docs/design.md §3.2), so
 * the fan-out gets every id_project a PutEvents publisher sends. One the API could never give a
 * subscription (ids are 1-64 letters, digits, _ or -) reaches no one: the fan-out says so and
 * does not query the table with it (a DynamoDB key over 2 KB would be refused there).
 */
beforeAll(() => {
  Object.assign(process.env, {
    TABLE_NAME: 'webhooks',
    DELIVERY_QUEUE_URL: 'http://127.0.0.1:9/000000000000/delivery',
    FAN_OUT_QUEUE_URL: 'http://127.0.0.1:9/000000000000/fan-out',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
});

const record = (id: string, projectId: string) => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body: JSON.stringify({ id, 'detail-type': 'request.create', source: 'tiledesk', time: '2026-12-05T18:00:00Z', detail: { id_project: projectId } }),
  attributes: { ApproximateReceiveCount: '1' },
});

test('an id_project no project can have is not looked up and fails nothing; a valid one is looked up', async () => {
  const { fanOut, fanOutDeps } = await import('../../../lambdas/handlers/fan-out');
  const lookedUp: string[] = [];
  fanOutDeps.findSubscriberFamily = async (projectId) => {
    lookedUp.push(projectId);
    return new Map();
  };
  const event = {
    Records: [record('e1', 'not a tenant id'), record('e2', 'x'.repeat(3000)), record('e3', 'caf\u00e9'), record('e4', '64f1c0ffee0123456789abcd')],
  } as unknown as SQSEvent;
  const answer = await fanOut(event, { getRemainingTimeInMillis: () => 30_000 } as never);
  expect(answer).toEqual({ batchItemFailures: [] });
  expect(lookedUp).toEqual(['64f1c0ffee0123456789abcd']);
});
