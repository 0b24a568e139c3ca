import fc from 'fast-check';
import { EventEnvelope, MalformedEventError, lookupByFamily, parseEnvelope, planDeliveries } from '../../../lambdas/core/fan-out';
import { EVENT_CATALOG, OPERATOR_SELECT_EVENT, deriveTopics } from '../../../lambdas/core/event-catalog';

const NUM_RUNS = 300;

/** Runs `parseEnvelope` and reports what happened, so a property can inspect the outcome. */
function outcomeOf(body: string): { parsed: EventEnvelope } | { error: unknown } {
  try {
    return { parsed: parseEnvelope(body) };
  } catch (error) {
    return { error };
  }
}

/** Either a valid envelope or a MalformedEventError; anything else fails the property. */
function expectParsesOrMalformed(body: string): 'parsed' | 'malformed' {
  const outcome = outcomeOf(body);
  if ('error' in outcome) {
    expect(outcome.error).toBeInstanceOf(MalformedEventError);
    expect((outcome.error as Error).name).toBe('MalformedEventError');
    expect((outcome.error as Error).message).toMatch(/\S/);
  } else {
    expect(typeof outcome.parsed.id).toBe('string');
    expect(outcome.parsed.id.length).toBeGreaterThan(0);
    expect(outcome.parsed['detail-type'].length).toBeGreaterThan(0);
    expect(outcome.parsed['detail-type']).not.toBe(OPERATOR_SELECT_EVENT);
    expect(typeof outcome.parsed.detail.id_project).toBe('string');
    expect(outcome.parsed.detail.id_project.length).toBeGreaterThan(0);
  }
  return 'error' in outcome ? 'malformed' : 'parsed';
}

const PUBLISHED_EVENTS = EVENT_CATALOG.map((entry) => entry.event as string);

/** Plausible values for each envelope field, mixed with anything JSON can carry. */
const fieldValue = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue() }, { weight: 1, arbitrary: fc.constant(undefined) });

const refinementName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}(\.[A-Za-z0-9_-]{1,8})?$/);

/** A detail object: an id_project, maybe a channel or a custom event name, and any extra keys. */
const detailArb = fc
  .record({
    base: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 }),
    id_project: fieldValue(fc.string({ minLength: 1, maxLength: 30 })),
    name: fc.option(fc.oneof(refinementName, fc.string(), fc.jsonValue()), { nil: undefined }),
    channel: fc.option(fc.oneof(refinementName, fc.string(), fc.jsonValue()), { nil: undefined }),
  })
  .map(({ base, id_project, name, channel }) => {
    const detail: Record<string, unknown> = { ...base };
    if (id_project !== undefined) detail.id_project = id_project;
    if (name !== undefined) detail.name = name;
    if (channel !== undefined) detail.request = { channel: { name: channel } };
    return detail;
  });

/** Envelope-shaped objects, some valid, many broken in one or more fields. */
const envelopeLikeArb = fc
  .record({
    id: fieldValue(fc.oneof(fc.uuid(), fc.string({ minLength: 1 }))),
    detailType: fieldValue(fc.oneof(fc.constantFrom(...PUBLISHED_EVENTS), fc.string())),
    source: fieldValue(fc.constant('tiledesk')),
    time: fieldValue(fc.date({ noInvalidDate: true }).map((date) => date.toISOString())),
    detail: fc.oneof({ weight: 5, arbitrary: detailArb }, { weight: 1, arbitrary: fc.jsonValue() }),
    extra: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
  })
  .map(({ id, detailType, source, time, detail, extra }) => {
    const envelope: Record<string, unknown> = { ...extra };
    if (id !== undefined) envelope.id = id;
    if (detailType !== undefined) envelope['detail-type'] = detailType;
    if (source !== undefined) envelope.source = source;
    if (time !== undefined) envelope.time = time;
    if (detail !== undefined) envelope.detail = detail;
    return envelope;
  });

describe('parseEnvelope', () => {
  test('keeps the published detail byte for byte: same keys in the same order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), fc.string({ minLength: 1 }), (rest, projectId) => {
        // id_project last, after keys that a schema would otherwise list after it.
        const detail = JSON.stringify({ ...rest, id_project: projectId });
        const body = `{"id":"e1","detail-type":"request.create","source":"tiledesk","time":"2026-11-23T00:00:00Z","detail":${detail}}`;
        expect(JSON.stringify(parseEnvelope(body).detail)).toBe(detail);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('any string either parses or throws MalformedEventError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (body) => {
        expectParsesOrMalformed(body);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('any JSON text either parses or throws MalformedEventError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.jsonValue().map((value) => JSON.stringify(value))), (body) => {
        expectParsesOrMalformed(body);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('envelope-shaped JSON, valid or broken, either parses or throws MalformedEventError', () => {
    const seen = { parsed: 0, malformed: 0 };
    fc.assert(
      fc.property(envelopeLikeArb, (envelope) => {
        seen[expectParsesOrMalformed(JSON.stringify(envelope))] += 1;
      }),
      { numRuns: NUM_RUNS },
    );
    // The generator exercises both outcomes, not only one of them.
    expect(seen.parsed).toBeGreaterThan(0);
    expect(seen.malformed).toBeGreaterThan(0);
  });

  test('truncated or corrupted envelope text either parses or throws MalformedEventError', () => {
    fc.assert(
      fc.property(envelopeLikeArb, fc.nat(), fc.string({ maxLength: 3 }), (envelope, cut, noise) => {
        const text = JSON.stringify(envelope);
        const at = cut % (text.length + 1);
        expectParsesOrMalformed(text.slice(0, at));
        expectParsesOrMalformed(`${text.slice(0, at)}${noise}${text.slice(at)}`);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('deeply nested JSON either parses or throws MalformedEventError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.boolean(), (depth, inDetail) => {
        const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        expectParsesOrMalformed(nested);
        if (inDetail) {
          expectParsesOrMalformed(
            `{"id":"e","detail-type":"lead.create","source":"tiledesk","time":"t","detail":{"id_project":"p","deep":${nested}}}`,
          );
        }
      }),
      { numRuns: 30 },
    );
  });

  test('operator.select is always refused with MalformedEventError', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.string({ minLength: 1 }), (id, projectId) => {
        const body = JSON.stringify({
          id,
          'detail-type': OPERATOR_SELECT_EVENT,
          source: 'tiledesk',
          time: new Date().toISOString(),
          detail: { id_project: projectId },
        });
        expect(() => parseEnvelope(body)).toThrow(MalformedEventError);
      }),
      { numRuns: 50 },
    );
  });
});

/** A subscription as the fan-out sees it: an id, its project and the one topic it follows. */
interface FakeSubscription {
  id: string;
  projectId: string;
  topic: string;
}

const subscriptionId = fc.oneof(
  // The form the service generates (newSubscriptionId): 24 hex characters.
  fc.stringMatching(/^[0-9a-f]{24}$/),
  // Any id the API path accepts (idSchema).
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
);

/** A valid envelope of a published event, its refinement sometimes selected by the payload. */
const validEnvelopeArb = fc
  .record({
    id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1 })),
    detailType: fc.constantFrom(...PUBLISHED_EVENTS.filter((event) => event !== OPERATOR_SELECT_EVENT)),
    projectId: fc.oneof(fc.constantFrom('proj-a', 'proj-b'), fc.string({ minLength: 1, maxLength: 30 })),
    refinement: fc.option(refinementName, { nil: undefined }),
    extra: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
    time: fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  })
  .map(({ id, detailType, projectId, refinement, extra, time }): EventEnvelope => {
    const detail: Record<string, unknown> = { ...extra, id_project: projectId };
    if (refinement !== undefined && detailType === 'event.emit') detail.name = refinement;
    if (refinement !== undefined && detailType === 'message.create') detail.request = { channel: { name: refinement } };
    return parseEnvelope(JSON.stringify({ id, 'detail-type': detailType, source: 'tiledesk', time, detail }));
  });

/** Subscriptions of the envelope's project (to its topics and others) and of another project. */
const scenarioArb = validEnvelopeArb.chain((envelope) => {
  const projectId = envelope.detail.id_project;
  const topics = deriveTopics(envelope['detail-type'], envelope.detail);
  const topicArb = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...topics) },
    { weight: 1, arbitrary: fc.constantFrom(...PUBLISHED_EVENTS, 'event.emit.other', 'message.create.request.channel.x') },
  );
  const projectArb = fc.oneof({ weight: 4, arbitrary: fc.constant(projectId) }, { weight: 1, arbitrary: fc.constant(`${projectId}-other`) });
  const subscriptionsArb = fc.uniqueArray(
    fc.record({ id: subscriptionId, projectId: projectArb, topic: topicArb }),
    { selector: (subscription) => subscription.id, maxLength: 25 },
  );
  return fc.tuple(fc.constant(envelope), subscriptionsArb);
});

/** A fake of the store's lookup: ids of the project's subscriptions to the topic. */
function fakeLookup(subscriptions: FakeSubscription[]): {
  lookup: (projectId: string, topic: string) => Promise<string[]>;
  calls: { projectId: string; topic: string }[];
} {
  const calls: { projectId: string; topic: string }[] = [];
  return {
    calls,
    lookup: async (projectId, topic) => {
      calls.push({ projectId, topic });
      return subscriptions.filter((s) => s.projectId === projectId && s.topic === topic).map((s) => s.id);
    },
  };
}

describe('planDeliveries', () => {
  test('one message per (topic, subscriber); webhook ids have no "." and are unique per subscription', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ([envelope, subscriptions]) => {
        const { lookup, calls } = fakeLookup(subscriptions);
        const messages = await planDeliveries(envelope, lookup);

        const projectId = envelope.detail.id_project;
        const topics = deriveTopics(envelope['detail-type'], envelope.detail);
        // Looked up in the event's project only, once per topic.
        expect(calls.map((call) => call.projectId)).toEqual(topics.map(() => projectId));
        expect(calls.map((call) => call.topic).sort()).toEqual([...topics].sort());

        const expected = subscriptions
          .filter((s) => s.projectId === projectId && topics.includes(s.topic))
          .map((s) => `${s.topic} ${s.id}`)
          .sort();
        expect(messages.map((message) => `${message.event} ${message.subscriptionId}`).sort()).toEqual(expected);

        for (const message of messages) {
          expect(message.webhookId).not.toContain('.');
          expect(message.webhookId.length).toBeGreaterThan(0);
          expect(message).toMatchObject({ eventId: envelope.id, projectId, publishedAt: envelope.time });
          expect(message.payload).toBe(envelope.detail);
        }
        const webhookIds = messages.map((message) => message.webhookId);
        expect(new Set(webhookIds).size).toBe(webhookIds.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('the webhook id of a subscription is stable for one event and differs between events', async () => {
    await fc.assert(
      fc.asyncProperty(validEnvelopeArb, fc.uuid(), subscriptionId, async (envelope, otherEventId, id) => {
        fc.pre(otherEventId !== envelope.id);
        const lookup = async (_projectId: string, topic: string): Promise<string[]> =>
          topic === envelope['detail-type'] ? [id] : [];
        const [first] = await planDeliveries(envelope, lookup);
        const [again] = await planDeliveries(envelope, lookup);
        const [other] = await planDeliveries({ ...envelope, id: otherEventId }, lookup);
        expect(first?.webhookId).toBeDefined();
        expect(again?.webhookId).toBe(first?.webhookId);
        expect(other?.webhookId).toBeDefined();
        expect(other?.webhookId).not.toBe(first?.webhookId);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('an event type outside the catalog (a mistyped DetailType) is looked up nowhere and planned to no one', async () => {
    await fc.assert(
      fc.asyncProperty(validEnvelopeArb, fc.constantFrom('request.created', 'lead.Create', 'foo'), async (envelope, detailType) => {
        const { lookup, calls } = fakeLookup([{ id: 'a'.repeat(24), projectId: envelope.detail.id_project, topic: detailType }]);
        expect(await planDeliveries({ ...envelope, 'detail-type': detailType }, lookup)).toEqual([]);
        expect(calls).toEqual([]);
      }),
      { numRuns: 20 },
    );
  });

  test('no subscribers, no messages', async () => {
    await fc.assert(
      fc.asyncProperty(validEnvelopeArb, async (envelope) => {
        expect(await planDeliveries(envelope, async () => [])).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });
});

describe('lookupByFamily', () => {
  test('asks once per (project, family) and gives each topic its own subscribers', async () => {
    const asked: string[] = [];
    const lookup = lookupByFamily(async (projectId, family) => {
      asked.push(`${projectId}/${family}`);
      return new Map([
        [family, [`${projectId}-${family}`]],
        [`${family}.channel.whatsapp`, [`${projectId}-whatsapp`]],
      ]);
    });
    const answers = await Promise.all([
      lookup('p1', 'message.create'),
      lookup('p1', 'message.create.channel.whatsapp'),
      lookup('p1', 'message.create.channel.telegram'),
      lookup('p1', 'request.create'),
      lookup('p2', 'message.create'),
    ]);
    expect(asked.sort()).toEqual(['p1/message.create', 'p1/request.create', 'p2/message.create']);
    expect(answers).toEqual([['p1-message.create'], ['p1-whatsapp'], [], ['p1-request.create'], ['p2-message.create']]);
  });

  test('reads a derived event with its base (project_user.update.agent with project_user.update)', async () => {
    const asked: string[] = [];
    const lookup = lookupByFamily(async (_projectId, family) => {
      asked.push(family);
      return new Map();
    });
    await Promise.all([lookup('p', 'project_user.update'), lookup('p', 'project_user.update.agent')]);
    expect(asked).toEqual(['project_user.update']);
  });

  test('keeps project and family apart even when their names could run together', async () => {
    const asked: string[] = [];
    const lookup = lookupByFamily(async (projectId, family) => {
      asked.push(JSON.stringify([projectId, family]));
      return new Map();
    });
    await Promise.all([lookup('a#b', 'request.create'), lookup('a', 'b#request.create')]);
    expect(asked).toHaveLength(2);
  });

  test('a failed lookup fails every caller of that pair, and no other', async () => {
    const lookup = lookupByFamily(async (projectId) => {
      if (projectId === 'bad') throw new Error('throttled');
      return new Map([['request.create', ['s1']]]);
    });
    await expect(lookup('bad', 'request.create')).rejects.toThrow('throttled');
    await expect(lookup('bad', 'request.create')).rejects.toThrow('throttled');
    await expect(lookup('good', 'request.create')).resolves.toEqual(['s1']);
  });
});
