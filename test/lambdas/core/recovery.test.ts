import { Attempt } from '../../../lambdas/core/attempt';
import { AwsBusyError } from '../../../lambdas/core/errors';
import { DeliveryMessage } from '../../../lambdas/core/delivery-message';
import { HEALTHY } from '../../../lambdas/core/delivery-health';
import { logKeyAt, messageFromAttempt, planRecovery, recoverPage, waitingUntil } from '../../../lambdas/core/recovery';
import { recoverSchema } from '../../../lambdas/core/api-schemas';

const now = new Date('2026-11-23T12:00:00Z');
let sequence = 0;
function attempt(webhookId: string, outcome: Attempt['outcome'], extra: Partial<Attempt> = {}): Attempt {
  sequence += 1;
  return {
    logId: `${String(now.getTime() - 100_000 + sequence).padStart(14, '0')}-x`,
    projectId: 'p',
    subscriptionId: 's',
    webhookId,
    eventId: webhookId,
    event: 'request.create',
    target: 'https://example.com/hook',
    attempt: 1,
    outcome,
    durationMs: 1,
    attemptedAt: now.toISOString(),
    payload: { id_project: 'p', webhookId },
    ...extra,
  };
}

describe('planRecovery', () => {
  test('dead and skipped-while-disabled ids are resent once; delivered and pending ones are not', () => {
    const chosen = planRecovery(
      [
        attempt('dead', 'failed', { nextAttemptAt: now.toISOString() }),
        attempt('dead', 'dead'),
        attempt('skipped', 'skipped', { error: 'subscription disabled: 5 deliveries in a row exhausted their retries' }),
        attempt('deleted', 'skipped', { error: 'subscription deleted after the event was fanned out' }),
        attempt('delivered-late', 'dead'),
        attempt('delivered-late', 'delivered'),
        attempt('pending', 'failed', { nextAttemptAt: new Date(now.getTime() + 60_000).toISOString() }),
        attempt('lost', 'failed', { nextAttemptAt: new Date(now.getTime() - 3_600_000).toISOString() }),
        attempt('msg_test_1', 'failed'),
      ],
      now,
    );
    expect(chosen.map((attempt) => attempt.webhookId).sort()).toEqual(['dead', 'lost', 'skipped']);
    expect(chosen.find((attempt) => attempt.webhookId === 'dead')?.outcome).toBe('dead');
  });

  test('an operator.select attempt is never turned into a delivery', () => {
    expect(messageFromAttempt(attempt('opsel', 'failed', { event: 'operator.select' }))).toBeUndefined();
    expect(messageFromAttempt(attempt('normal', 'delivered'))).toMatchObject({ webhookId: 'normal', event: 'request.create' });
  });
});

describe('deliveries only waiting are not lost', () => {
  const overdue = () => attempt('held', 'failed', { nextAttemptAt: new Date(now.getTime() - 3_600_000).toISOString() });

  test('an overdue retry of a subscription whose circuit or rate limit still holds it is left alone', () => {
    expect(planRecovery([overdue()], now, { waitingUntil: now.getTime() + 60_000 })).toEqual([]);
    expect(planRecovery([overdue()], now, { waitingUntil: now.getTime() - 3_600_000 })).toHaveLength(1);
  });

  test('a retry due after the end of a page is judged on the page that holds its retry', () => {
    expect(planRecovery([overdue()], now, { completeBefore: now.getTime() - 4_000_000 })).toEqual([]);
  });

  test('waiting lasts as long as the open circuit, or the last rate slot handed out', () => {
    const at = now.getTime();
    expect(waitingUntil({ ...HEALTHY }, {}, at)).toBeUndefined();
    expect(waitingUntil({ ...HEALTHY, circuit: 'open', openUntil: at + 30_000 }, {}, at)).toBe(at + 30_000);
    // 5/s with its clock 100 s ahead: the last slot is ~100 s away.
    expect(waitingUntil({ ...HEALTHY, rateTat: at + 100_000 }, { rateLimit: 5 }, at)).toBeGreaterThan(at + 99_000);
  });

  test('parked deliveries being released (a wake-up due, after a reset the circuit is closed) are waiting too', () => {
    const at = now.getTime();
    expect(waitingUntil({ ...HEALTHY, heldCount: 40, wakeAt: at + 1000 }, {}, at)).toBe(at + 1000);
    // A wake-up a little overdue (its message is on its way) still counts from now; one overdue
    // by over a minute was lost, and does not keep recover from lost retries.
    expect(waitingUntil({ ...HEALTHY, heldCount: 40, wakeAt: at - 5000 }, {}, at)).toBe(at);
    expect(waitingUntil({ ...HEALTHY, heldCount: 40, wakeAt: at - 7 * 86_400_000 }, {}, at)).toBeUndefined();
    expect(planRecovery([overdue()], now, { waitingUntil: waitingUntil({ ...HEALTHY, heldCount: 40, wakeAt: at }, {}, at) })).toEqual([]);
  });
});

describe('recoverPage', () => {
  function ports(attempts: Attempt[], pageSize = 1000) {
    const marked = new Set<string>();
    const sent: DeliveryMessage[] = [];
    return {
      sent,
      marked,
      ports: {
        listPage: async (fromKey: string) => {
          const after = attempts.filter((a) => a.logId >= fromKey).sort((a, b) => a.logId.localeCompare(b.logId));
          const page = after.slice(0, pageSize);
          return { attempts: page, nextKey: after.length > pageSize ? after[pageSize]!.logId : undefined };
        },
        claim: async (logId: string) => !marked.has(logId) && Boolean(marked.add(logId)),
        release: async (logId: string) => void marked.delete(logId),
        read: async (logId: string) => attempts.find((a) => a.logId === logId),
        send: async (messages: DeliveryMessage[]) => {
          sent.push(...messages);
          return [];
        },
      },
    };
  }
  const since = logKeyAt(new Date(now.getTime() - 3_600_000));

  test('the same recover twice sends each lost delivery once', async () => {
    const log = [attempt('a', 'dead'), attempt('b', 'dead'), attempt('c', 'delivered')];
    const world = ports(log);
    const first = await recoverPage(since, now, {}, world.ports);
    const second = await recoverPage(since, now, {}, world.ports);
    expect(first).toMatchObject({ recovered: 2, alreadyRecovered: 0, nextCursor: null });
    expect(second).toMatchObject({ recovered: 0, alreadyRecovered: 2, nextCursor: null });
    expect(world.sent.map((message) => message.webhookId).sort()).toEqual(['a', 'b']);
  });

  test('two recovers at once send each lost delivery once', async () => {
    const world = ports([attempt('x', 'dead'), attempt('y', 'dead')]);
    const results = await Promise.all([recoverPage(since, now, {}, world.ports), recoverPage(since, now, {}, world.ports)]);
    expect(results.reduce((sum, result) => sum + result.recovered, 0)).toBe(2);
    expect(world.sent).toHaveLength(2);
  });

  test('pages are bounded and go on from the cursor until done', async () => {
    const log = Array.from({ length: 7 }, (_, index) => attempt(`w${index}`, 'dead'));
    const world = ports(log, 3);
    let cursor: string | null = since;
    const pages = [];
    while (cursor) {
      const result = await recoverPage(cursor, now, {}, world.ports);
      pages.push(result.recovered);
      cursor = result.nextCursor;
    }
    expect(pages).toEqual([3, 3, 1]);
    expect(new Set(world.sent.map((message) => message.webhookId)).size).toBe(7);
  });

  test('a call running out of time starts no new slice and answers the same page again, from which the next call goes on', async () => {
    const log = Array.from({ length: 5 }, (_, index) => attempt(`t${index}`, 'dead'));
    const world = ports(log);
    // Time for one slice of 2, then the function's deadline is near.
    let left = 10_000;
    const slow = { ...world.ports, timeLeftMs: () => left, send: async (messages: DeliveryMessage[]) => ((left = 2_000), world.ports.send(messages)) };
    const first = await recoverPage(since, now, {}, slow, 2);
    expect(first).toMatchObject({ recovered: 2, nextCursor: `${since}-0000000000` });
    // A cursor the API takes back, though the first page began at a time alone.
    expect(recoverSchema.safeParse({ since: now.toISOString(), cursor: first.nextCursor }).success).toBe(true);
    // Nothing was claimed past what was sent: the rest still goes, once.
    expect([...world.marked].sort()).toEqual(log.slice(0, 2).map((entry) => entry.logId));
    const second = await recoverPage(first.nextCursor!, now, {}, world.ports, 2);
    expect(second).toMatchObject({ recovered: 3, alreadyRecovered: 2, nextCursor: null });
    expect(world.sent.map((message) => message.webhookId).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  test('a call short of time from its start still sends a slice of its own before it stops, so following the cursor ends', async () => {
    const log = Array.from({ length: 6 }, (_, index) => attempt(`u${index}`, 'dead'));
    const world = ports(log);
    const hurried = { ...world.ports, timeLeftMs: () => 0 };
    let cursor: string | null = since;
    const calls: number[] = [];
    while (cursor && calls.length < 10) {
      const result: { recovered: number; nextCursor: string | null } = await recoverPage(cursor, now, {}, hurried, 2);
      calls.push(result.recovered);
      cursor = result.nextCursor;
    }
    expect(calls).toEqual([2, 2, 2]);
    expect(new Set(world.sent.map((message) => message.webhookId)).size).toBe(6);
  });

  test('a delivery that could not be sent is not marked, so a retry of the call sends it', async () => {
    const world = ports([attempt('z', 'dead')]);
    const failing = { ...world.ports, send: () => Promise.reject(new Error('SQS down')) };
    await expect(recoverPage(since, now, {}, failing)).rejects.toThrow('SQS down');
    expect(world.marked.size).toBe(0);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 1 });
  });

  test('a failure while claiming or reading takes back the markers already won, so a retry of the call sends them', async () => {
    const world = ports([attempt('c1', 'dead'), attempt('c2', 'dead'), attempt('c3', 'dead')]);
    let claims = 0;
    const claimFails = { ...world.ports, claim: async (logId: string) => (++claims === 3 ? Promise.reject(new Error('throttled')) : world.ports.claim(logId)) };
    await expect(recoverPage(since, now, {}, claimFails)).rejects.toThrow('throttled');
    expect(world.marked.size).toBe(0);
    const readFails = { ...world.ports, read: () => Promise.reject(new Error('read failed')) };
    await expect(recoverPage(since, now, {}, readFails)).rejects.toThrow('read failed');
    expect(world.marked.size).toBe(0);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 3, alreadyRecovered: 0 });
  });

  test('a send SQS took in part keeps the markers of what it took: a retry of the call sends only the rest', async () => {
    const world = ports([attempt('p1', 'dead'), attempt('p2', 'dead'), attempt('p3', 'dead')]);
    // SQS takes the first and third of the batch and refuses the second.
    const partial = {
      ...world.ports,
      send: async (messages: DeliveryMessage[]) => {
        world.sent.push(messages[0]!, messages[2]!);
        return [{ index: 1, reason: 'InternalError' }];
      },
    };
    const refused = await recoverPage(since, now, {}, partial).catch((error: unknown) => error);
    expect(refused).toEqual(new Error('SQS did not take 1 of 3 recovered deliveries: InternalError'));
    // A refusal SQS does not say is its own (busy) is not "busy": a 500, as a fault of the request would be.
    expect(refused).not.toBeInstanceOf(AwsBusyError);
    expect(world.marked.size).toBe(2);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 1, webhookIds: ['p2'], alreadyRecovered: 2 });
    expect(world.sent.map((message) => message.webhookId).sort()).toEqual(['p1', 'p2', 'p3']);
  });

  test('SQS busy for every refused delivery: an AwsBusyError (503 with Retry-After), and a retry sends only the rest', async () => {
    const world = ports([attempt('b1', 'dead'), attempt('b2', 'dead')]);
    const busy = {
      ...world.ports,
      send: async (messages: DeliveryMessage[]) => {
        world.sent.push(messages[0]!);
        return [{ index: 1, reason: 'RequestThrottled: Rate exceeded', busy: true }];
      },
    };
    await expect(recoverPage(since, now, {}, busy)).rejects.toBeInstanceOf(AwsBusyError);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 1, webhookIds: ['b2'], alreadyRecovered: 1 });
  });

  test('a call stopped mid-page (the function timed out) strands at most one slice of markers, not the page', async () => {
    const world = ports(Array.from({ length: 60 }, (_, index) => attempt(`t${String(index).padStart(2, '0')}`, 'dead')));
    let enqueued = 0;
    // The first slice goes out; the second never returns, as when Lambda stops the function.
    const stalls = { ...world.ports, send: (messages: DeliveryMessage[]) => (++enqueued === 1 ? world.ports.send(messages) : new Promise<never>(() => {})) };
    void recoverPage(since, now, {}, stalls, 25);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(world.sent).toHaveLength(25);
    // 25 sent and marked, 25 claimed for the stalled slice: the last 10 were never claimed.
    expect(world.marked.size).toBe(50);
  });

  test('an attempt whose payload was not kept is not marked: nothing was sent for it', async () => {
    const world = ports([attempt('kept', 'dead'), attempt('unkept', 'dead', { payload: undefined })]);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 1, webhookIds: ['kept'], unrecoverable: 1 });
    expect(world.marked.size).toBe(1);
    expect(await recoverPage(since, now, {}, world.ports)).toMatchObject({ recovered: 0, alreadyRecovered: 1, unrecoverable: 1 });
  });
});
