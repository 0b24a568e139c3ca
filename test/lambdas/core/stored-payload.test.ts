import { DELIVERY } from '../../../lambdas/core/settings';
import { mayReferToStoredPayload, storedPayloadExpiry } from '../../../lambdas/core/stored-payload';

const DAY = 86_400_000;
const published = '2026-12-01T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(published) + ms);

describe('mayReferToStoredPayload', () => {
  test('only when the fan-out stored the payload', () => {
    expect(mayReferToStoredPayload({ publishedAt: published }, at(1000))).toBe(false);
    expect(mayReferToStoredPayload({ publishedAt: published, payloadStored: false }, at(1000))).toBe(false);
    expect(mayReferToStoredPayload({ publishedAt: published, payloadStored: true }, at(1000))).toBe(true);
  });

  test('only within the reference window after publishing, so the stored payload outlives the attempt', () => {
    const window = DELIVERY.storedPayloadReferenceDays * DAY;
    expect(mayReferToStoredPayload({ publishedAt: published, payloadStored: true }, at(window))).toBe(true);
    expect(mayReferToStoredPayload({ publishedAt: published, payloadStored: true }, at(window + 1))).toBe(false);
    // The attempt's log expires attemptLogTtlDays after it; the event's at published + ttl + window.
    const ttlDays = 7;
    const eventExpires = storedPayloadExpiry(published, ttlDays)! * 1000;
    expect(at(window).getTime() + ttlDays * DAY).toBeLessThanOrEqual(eventExpires);
  });

  test('never for a publishing time that is not a time', () => {
    expect(mayReferToStoredPayload({ publishedAt: 'yesterday', payloadStored: true }, new Date())).toBe(false);
    expect(storedPayloadExpiry('yesterday', 7)).toBeUndefined();
  });
});
