import { EVENT_CATALOG, deriveTopics } from '../../../lambdas/core/event-catalog';
import {
  EXAMPLE_PROJECT_ID,
  catalogWithExamples,
  exampleEventFor,
  examplePayloadOf,
  payloadSchemaOf,
} from '../../../lambdas/core/event-payloads';

describe('example payloads', () => {
  test.each(EVENT_CATALOG.map(({ event }) => event))('%s has an example its own schema accepts, routed to a project', (event) => {
    const example = examplePayloadOf(event);
    expect(payloadSchemaOf(event).safeParse(example)).toMatchObject({ success: true });
    expect(example.id_project).toBe(EXAMPLE_PROJECT_ID);
  });

  test('the schemas are not vacuous: a payload without its required fields is refused', () => {
    expect(payloadSchemaOf('request.create').safeParse({ id_project: 'p1' }).success).toBe(false);
    expect(payloadSchemaOf('message.create').safeParse({ id_project: 'p1', _id: 'm1' }).success).toBe(false);
  });

  test('the catalog lists every event once, with its example', () => {
    const catalog = catalogWithExamples();
    expect(catalog.map(({ event }) => event)).toEqual(EVENT_CATALOG.map(({ event }) => event));
    expect(catalog.every(({ example }) => typeof example.id_project === 'string')).toBe(true);
  });
});

describe('exampleEventFor', () => {
  test('a catalog event publishes its example for the project, every project id replaced', () => {
    const { event, payload } = exampleEventFor('request.create', 'acme');
    expect(event).toBe('request.create');
    expect(payload.id_project).toBe('acme');
    expect(JSON.stringify(payload)).not.toContain(EXAMPLE_PROJECT_ID);
  });

  test.each([
    ['message.create.request.channel.telegram', 'message.create'],
    ['message.create.channel.whatsapp', 'message.create'],
    ['event.emit.order.paid', 'event.emit'],
    ['project_user.update.agent', 'project_user.update'],
  ])('%s publishes %s with a payload the fan-out delivers to its subscribers', (subscribed, published) => {
    const { event, payload } = exampleEventFor(subscribed, 'acme');
    expect(event).toBe(published);
    expect(deriveTopics(event, payload)).toContain(subscribed);
  });

  test('operator.select and unknown events are refused naming the field', () => {
    expect(() => exampleEventFor('operator.select', 'acme')).toThrow(expect.objectContaining({ errors: [expect.objectContaining({ field: 'event' })] }));
    expect(() => exampleEventFor('request.explode', 'acme')).toThrow(expect.objectContaining({ errors: [expect.objectContaining({ field: 'event' })] }));
  });
});
