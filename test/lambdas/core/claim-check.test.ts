import {
  BusEntry,
  CLAIM_CHECK_FIELD,
  ClaimCheck,
  ForeignClaimCheckError,
  checkClaimCheckBinding,
  claimCheckPrefixOf,
  reservedFieldsIn,
  MAX_EVENT_ENTRY_BYTES,
  batchEntries,
  claimCheckDetail,
  entryBytes,
  measuredBytes,
  readClaimCheck,
  toBusEntries,
} from '../../../lambdas/core/claim-check';
import { deriveTopics } from '../../../lambdas/core/event-catalog';
import { MalformedEventError, parseEnvelope } from '../../../lambdas/core/fan-out';

const REF: ClaimCheck = { bucket: 'b', key: 'events/2026-12-01/x.json', bytes: 600_000 };
const big = (size: number) => 'x'.repeat(size);

describe('toBusEntries', () => {
  test('publishes a payload within the limit as it is, and stores a larger one aside', async () => {
    const stored: string[] = [];
    const small = { id_project: 'p1', text: 'hi' };
    const large = { id_project: 'p1', text: big(MAX_EVENT_ENTRY_BYTES) };
    const entries = await toBusEntries(
      [
        { event: 'message.create', payload: small },
        { event: 'request.close', payload: large },
      ],
      async (json) => {
        stored.push(json);
        return REF;
      },
    );
    expect(entries).toEqual([
      { detailType: 'message.create', detail: JSON.stringify(small) },
      { detailType: 'request.close', detail: JSON.stringify({ id_project: 'p1', [CLAIM_CHECK_FIELD]: REF }) },
    ]);
    expect(stored).toEqual([JSON.stringify(large)]);
  });

  test('stores aside a payload whose escaping takes its PutEvents request over the limit', async () => {
    // 100 000 quotes: 200 KB of Detail (\"), within EventBridge's count, but 400 KB once the Detail is escaped in the request.
    const payload = { id_project: 'p1', text: '"'.repeat(100_000) };
    expect(entryBytes('message.create', JSON.stringify(payload))).toBeLessThan(MAX_EVENT_ENTRY_BYTES);
    const entries = await toBusEntries([{ event: 'message.create', payload }], async () => REF);
    expect(readClaimCheck(JSON.parse(entries[0]?.detail ?? '{}') as Record<string, unknown>)).toEqual(REF);
  });

  test('stores aside a payload with U+FFFE or U+FFFF, however small: SQS refuses them on the way to the fan-out', async () => {
    const stored: string[] = [];
    const payload = { id_project: 'p1', text: 'hi \uffff' };
    const entries = await toBusEntries([{ event: 'message.create', payload }], async (json) => {
      stored.push(json);
      return REF;
    });
    expect(readClaimCheck(JSON.parse(entries[0]?.detail ?? '{}') as Record<string, unknown>)).toEqual(REF);
    expect(JSON.parse(stored[0]!)).toEqual(payload);
    expect(stored[0]).not.toMatch(/[\uFFFE\uFFFF]/);
    // Nor does the small detail published in its place carry them (it copies short top-level strings).
    expect(entries[0]!.detail).not.toMatch(/\\uff(fe|ff)/);
    expect(JSON.parse(entries[0]!.detail)).not.toHaveProperty('text');
  });

  test('counts bytes, not characters, against the limit', async () => {
    // 70 000 four-byte emoji: 140 000 UTF-16 units, 280 000 bytes.
    const payload = { id_project: 'p1', text: '🚀'.repeat(70_000) };
    const entries = await toBusEntries([{ event: 'message.create', payload }], async () => REF);
    expect(readClaimCheck(JSON.parse(entries[0]?.detail ?? '{}') as Record<string, unknown>)).toEqual(REF);
  });
});

describe('claimCheckDetail', () => {
  test.each([
    ['message.create', { id_project: 'p1', request: { channel: { name: 'telegram' } }, text: big(10) }],
    ['event.emit', { id_project: 'p1', name: 'typing.start', attributes: { a: 1 } }],
    ['message.create', { id_project: 'p1', channel: { name: 'whatsapp' }, request: { channel: { name: 'chat21' } }, text: big(10) }],
    ['project_user.update', { id_project: 'p1', roleType: 1, role: 'agent', id_user: { _id: 'u1', firstname: big(10) } }],
    ['request.close', { id_project: 'p1', messages: [] }],
  ])('keeps what %s needs for its refinement topics', (event, payload) => {
    expect(deriveTopics(event, claimCheckDetail(payload, REF))).toEqual(deriveTopics(event, payload));
  });

  test('leaves out values too long to be names, objects, and scalars past 16 KB', () => {
    expect(claimCheckDetail({ id_project: 'p1', name: big(500), messages: [{ text: 'x' }] }, REF)).toEqual({
      id_project: 'p1',
      [CLAIM_CHECK_FIELD]: REF,
    });
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, n) => [`field${n}`, big(100)]));
    expect(JSON.stringify(claimCheckDetail({ id_project: 'p1', ...many }, REF)).length).toBeLessThan(20 * 1024);
  });
});

describe('readClaimCheck', () => {
  test('is undefined for an event published whole and throws for a malformed claim check', () => {
    expect(readClaimCheck({ id_project: 'p1' })).toBeUndefined();
    expect(() => readClaimCheck({ id_project: 'p1', [CLAIM_CHECK_FIELD]: { bucket: 'b' } })).toThrow(/malformed/);
  });
});

describe('batchEntries', () => {
  const entry = (bytes: number): BusEntry => ({ detailType: 'lead.create', detail: big(bytes - entryBytes('lead.create', '')) });

  test('keeps each PutEvents request within 10 entries and 256 KB', () => {
    const entries = [...Array.from({ length: 12 }, () => entry(100)), entry(200_000), entry(100_000)];
    const batches = batchEntries(entries);
    expect(batches.map((batch) => batch.length)).toEqual([10, 3, 1]);
    for (const batch of batches) {
      expect(batch.reduce((sum, e) => sum + measuredBytes(e.detailType, e.detail), 0)).toBeLessThanOrEqual(MAX_EVENT_ENTRY_BYTES);
    }
  });

  test('refuses an entry over the limit on its own', () => {
    expect(() => batchEntries([entry(MAX_EVENT_ENTRY_BYTES + 1)])).toThrow(/exceeds/);
  });
});

describe('claim checks are bound to the deployment and the project', () => {
  const BUCKET = 'claim-checks';
  const own = (key: string): ClaimCheck => ({ bucket: BUCKET, key, bytes: 1 });

  test('a key under the project\'s own prefix in the configured bucket is accepted', () => {
    expect(() => checkClaimCheckBinding(own(`${claimCheckPrefixOf('p1')}2026-12-01/x.json`), 'p1', BUCKET)).not.toThrow();
  });

  test.each([
    ['another project\'s key', own('events/victim/2026-12-01/x.json'), 'p1', BUCKET],
    ['a key outside the prefix', own('secrets/p1/x.json'), 'p1', BUCKET],
    ['a foreign bucket', { bucket: 'someone-elses', key: 'events/p1/x.json', bytes: 1 }, 'p1', BUCKET],
    ['no configured bucket', own('events/p1/x.json'), 'p1', undefined],
    ['no project', own('events/p1/x.json'), undefined, BUCKET],
    // `a/b` is encoded, so project `a` cannot reach project `a/b`'s keys through a shared prefix.
    ['a project whose id is a prefix of the key\'s', own(`${claimCheckPrefixOf('a/b')}x.json`), 'a', BUCKET],
  ])('%s is refused before any read', (_what, claimCheck, projectId, bucket) => {
    expect(() => checkClaimCheckBinding(claimCheck, projectId, bucket)).toThrow(ForeignClaimCheckError);
  });

  test('the fan-out treats a detail with a foreign claim check as malformed (poison), and takes its own', () => {
    const envelope = (detail: object) => JSON.stringify({ id: 'e1', 'detail-type': 'request.close', source: 'tiledesk', time: '2026-12-01T00:00:00Z', detail });
    const forged = { id_project: 'p1', [CLAIM_CHECK_FIELD]: own('events/victim/2026-12-01/x.json') };
    expect(() => parseEnvelope(envelope(forged), BUCKET)).toThrow(MalformedEventError);
    const genuine = { id_project: 'p1', [CLAIM_CHECK_FIELD]: own(`${claimCheckPrefixOf('p1')}2026-12-01/x.json`) };
    expect(parseEnvelope(envelope(genuine), BUCKET).detail).toEqual(genuine);
  });

  test('reservedFieldsIn names each payload that carries the field', () => {
    const payloads = [{ id_project: 'p' }, { id_project: 'p', [CLAIM_CHECK_FIELD]: {} }];
    expect(reservedFieldsIn(payloads, (index) => `${index}.payload.${CLAIM_CHECK_FIELD}`)).toEqual([`1.payload.${CLAIM_CHECK_FIELD}`]);
  });
});
