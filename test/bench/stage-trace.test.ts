// The benches' stage trace: invocations joined with receipts by event id and webhook-id; the
// stages add up to the publish → receipt time, and a delivery POSTed by a later invocation
// (held, forwarded, retried) counts its wait as `resent`.
import type { SQSRecord } from 'aws-lambda';
import { STAGES, StageTrace, describeStages } from '../../bench/stage-trace';

const record = (body: unknown, sent: number, firstReceived: number): SQSRecord =>
  ({
    messageId: `m${sent}`,
    body: JSON.stringify(body),
    attributes: { SentTimestamp: String(sent), ApproximateFirstReceiveTimestamp: String(firstReceived) },
  }) as unknown as SQSRecord;

test('each receipt is split into stages that add up to its publish → receipt time', () => {
  const trace = new StageTrace();
  const envelope = { version: '0', id: 'e1', 'detail-type': 'request.create', detail: { id_project: 'p', sentAt: 1000 } };
  const delivery = { webhookId: 'msg_e1_s1', eventId: 'e1', projectId: 'p' };
  trace.onInvocation({ functionName: 'FanOut', receivedAt: 1012, startedAt: 1015, endedAt: 1030, records: [record(envelope, 1010, 1012)] });
  trace.onInvocation({ functionName: 'Fast', receivedAt: 1040, startedAt: 1045, endedAt: 1600, records: [record(delivery, 1025, 1040)] });
  // Forwarded to the slow lane, which POSTed it.
  trace.onInvocation({ functionName: 'Slow', receivedAt: 1610, startedAt: 1620, endedAt: 1700, records: [record({ ...delivery, attempt: 2 }, 1601, 1610)] });
  const [row, ...rest] = trace.rows([
    { id: 'msg_e1_s1', at: 1650, sentAt: 1000 },
    { id: 'msg_e1_s1', at: 1660, sentAt: 1000 },
    { id: 'unknown', at: 2000, sentAt: 1000 },
  ]);
  expect(rest).toEqual([]);
  expect(row).toEqual({ total: 650, publish: 10, fanOutQueue: 2, fanOutStart: 3, fanOutRun: 10, deliveryQueue: 15, deliveryStart: 5, resent: 575, post: 30 });
  expect(STAGES.reduce((sum, stage) => sum + row![stage], 0)).toBe(row!.total);
  expect(describeStages([row!])).toContain('resent 575');
});
