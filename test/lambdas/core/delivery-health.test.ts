// The slow lane's return: quick answers in a row bring a subscriber back to the fast lane, and a
// subscriber that goes back soon after returning needs twice as many the next time.
import { DeliveryHealth, HEALTHY, PostSignal, foldSignals, quickAnswersToReturn } from '../../../lambdas/core/delivery-health';
import { DELIVERY } from '../../../lambdas/core/settings';

const HOUR = 3_600_000;
const start = Date.parse('2026-12-05T00:00:00Z');

/** The fast lane's answer deadline passing: the subscriber moves to the slow lane. */
const hang = (at: number): PostSignal => ({ ok: false, durationMs: DELIVERY.fastLaneAnswerMs, fastLaneTimeout: true, at });
const quick = (at: number): PostSignal => ({ ok: true, durationMs: DELIVERY.quickAnswerMs - 1, at });

/** Folds `count` quick answers one batch each, from `at`; the health after, and after how many it returned. */
function answerQuickly(health: DeliveryHealth, count: number, at: number): { health: DeliveryHealth; returnedAfter?: number } {
  let next = health;
  for (let n = 1; n <= count; n++) {
    const folded = foldSignals(next, [quick(at + n)], DELIVERY);
    next = folded.health;
    if (folded.transitions.includes('lane-fast')) return { health: next, returnedAfter: n };
  }
  return { health: next };
}

test('a first spell in the slow lane ends after quickAnswersToReturn quick answers in a row', () => {
  const { health, transitions } = foldSignals({ ...HEALTHY }, [hang(start)], DELIVERY);
  expect(transitions).toEqual(['lane-slow']);
  expect(health).toMatchObject({ lane: 'slow', slowSpells: 1 });
  const back = answerQuickly(health, 1000, start + 1000);
  expect(back.returnedAfter).toBe(DELIVERY.quickAnswersToReturn);
  expect(back.health).toMatchObject({ lane: 'fast', quickAnswers: 0, fastSince: start + 1000 + DELIVERY.quickAnswersToReturn });
});

test('each hang soon after a return doubles the quick answers the next return takes, up to the maximum', () => {
  let health: DeliveryHealth = { ...HEALTHY };
  let at = start;
  const returns: number[] = [];
  for (let spell = 0; spell < 9; spell++) {
    health = foldSignals(health, [hang(at)], DELIVERY).health;
    const back = answerQuickly(health, 10_000, at);
    returns.push(back.returnedAfter!);
    health = back.health;
    at += 60_000;
  }
  expect(returns).toEqual([10, 20, 40, 80, 160, 320, 640, 640, 640]);
  expect(DELIVERY.quickAnswersToReturnMax).toBe(640);
});

test('a hang long after the last return is a first spell again', () => {
  let health = foldSignals({ ...HEALTHY }, [hang(start)], DELIVERY).health;
  health = answerQuickly(health, 100, start).health;
  health = foldSignals(health, [hang(start + 60_000)], DELIVERY).health;
  expect(health.slowSpells).toBe(2);
  health = answerQuickly(health, 100, start + 60_000).health;
  expect(health.lane).toBe('fast');
  health = foldSignals(health, [hang(health.fastSince! + DELIVERY.laneRepeatWindowSeconds * 1000 + 1)], DELIVERY).health;
  expect(health).toMatchObject({ lane: 'slow', slowSpells: 1 });
  expect(quickAnswersToReturn(health, DELIVERY)).toBe(DELIVERY.quickAnswersToReturn);
});

test('a slow answer or a failure starts the count again, whatever the spell', () => {
  let health: DeliveryHealth = { ...HEALTHY, lane: 'slow', slowSpells: 2 };
  health = answerQuickly(health, 19, start).health;
  expect(health).toMatchObject({ lane: 'slow', quickAnswers: 19 });
  health = foldSignals(health, [{ ok: true, durationMs: DELIVERY.quickAnswerMs + 1, at: start + HOUR }], DELIVERY).health;
  expect(health.quickAnswers).toBe(0);
  health = answerQuickly(health, 19, start + HOUR).health;
  health = foldSignals(health, [{ ok: false, durationMs: 5, at: start + 2 * HOUR }], DELIVERY).health;
  expect(health).toMatchObject({ lane: 'slow', quickAnswers: 0 });
  expect(answerQuickly(health, 100, start + 2 * HOUR).returnedAfter).toBe(20);
});

test('a health stored before lanes had a memory (no slowSpells) returns after the first count', () => {
  const stored: DeliveryHealth = { ...HEALTHY, lane: 'slow', quickAnswers: 3 };
  expect(answerQuickly(stored, 100, start).returnedAfter).toBe(DELIVERY.quickAnswersToReturn - 3);
});

test('a fast-lane timeout from before the last return (folded again after a conflicting save) starts no new spell', () => {
  const returned: DeliveryHealth = { ...HEALTHY, lane: 'fast', slowSpells: 1, fastSince: start };
  const { health, transitions } = foldSignals(returned, [hang(start - 300)], DELIVERY);
  expect(transitions).toEqual([]);
  expect(health).toMatchObject({ lane: 'fast', slowSpells: 1, fastSince: start });
});
