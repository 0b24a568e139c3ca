import {
  EVENT_CATALOG,
  EVENT_REFINEMENTS,
  OPERATOR_SELECT_EVENT,
  deriveTopics,
  isKnownEvent,
  isPublishedEvent,
  topicFamily,
} from '../../../lambdas/core/event-catalog';

describe('isKnownEvent', () => {
  it.each(EVENT_CATALOG.map((entry) => entry.event))('accepts the catalog event %s', (event) => {
    expect(isKnownEvent(event)).toBe(true);
  });

  it.each([
    'message.create.request.channel.telegram',
    'message.create.request.channel.whatsapp',
    'message.create.request.channel.chat21',
    'message.create.channel.chat21',
    'message.create.channel.whatsapp',
    'event.emit.typing.start',
    'event.emit.my_custom-event',
    `event.emit.${'a'.repeat(100)}`,
  ])('accepts the refinement %s', (event) => {
    expect(isKnownEvent(event)).toBe(true);
  });

  it.each([
    ['an empty string', ''],
    ['an unknown name', 'foo'],
    ['a near miss of a catalog event', 'request.created'],
    ['a base event with a trailing dot', 'request.create.'],
    ['a refinement of a base that has none', 'request.create.telegram'],
    ['an empty channel name', 'message.create.request.channel.'],
    ['an empty custom event name', 'event.emit.'],
    ['an empty message channel name', 'message.create.channel.'],
    ['a refinement of the derived agent update', 'project_user.update.agent.x'],
    ['a user refinement Tiledesk emits to no subscription', 'project_user.update.user'],
    ['an outbound channel Tiledesk emits to no subscription', 'message.create.request.channelOutbound.telegram'],
    ['a name with a space', 'event.emit.typing start'],
    ['a name with a slash', 'message.create.request.channel.tele/gram'],
    ['a name with an empty segment', 'event.emit.typing..start'],
    ['a name with a trailing dot', 'event.emit.typing.'],
    ['a name longer than 100 characters', `event.emit.${'a'.repeat(101)}`],
    ['a differently cased base', 'Request.Create'],
  ])('refuses %s', (_label, event) => {
    expect(isKnownEvent(event)).toBe(false);
  });
});

describe('isPublishedEvent', () => {
  it('is true for bus events and their refinements', () => {
    expect(isPublishedEvent('request.create')).toBe(true);
    expect(isPublishedEvent('message.create.request.channel.telegram')).toBe(true);
    expect(isPublishedEvent('event.emit.typing.start')).toBe(true);
  });

  it('is false for the synchronous operator.select hook', () => {
    expect(OPERATOR_SELECT_EVENT).toBe('operator.select');
    expect(isKnownEvent('operator.select')).toBe(true);
    expect(isPublishedEvent('operator.select')).toBe(false);
  });

  it('is false for unknown events', () => {
    expect(isPublishedEvent('foo')).toBe(false);
  });
});

describe('deriveTopics', () => {
  it('gives only the base topic for events without refinements', () => {
    expect(deriveTopics('request.create', { id_project: 'p1', name: 'typing.start' })).toEqual(['request.create']);
  });

  it('adds the channel refinement of message.create', () => {
    const payload = { id_project: 'p1', request: { channel: { name: 'telegram' } } };
    expect(deriveTopics('message.create', payload)).toEqual([
      'message.create',
      'message.create.request.channel.telegram',
    ]);
  });

  it('adds the name refinement of event.emit', () => {
    expect(deriveTopics('event.emit', { id_project: 'p1', name: 'typing.start' })).toEqual([
      'event.emit',
      'event.emit.typing.start',
    ]);
  });

  it.each([
    ['no request', { id_project: 'p1' }],
    ['a null request', { request: null }],
    ['a request without channel', { request: {} }],
    ['a string channel', { request: { channel: 'telegram' } }],
    ['a numeric channel name', { request: { channel: { name: 42 } } }],
    ['an empty channel name', { request: { channel: { name: '' } } }],
    ['a channel name with invalid characters', { request: { channel: { name: 'tele gram/x' } } }],
  ])('gives only message.create for a payload with %s', (_label, payload) => {
    expect(deriveTopics('message.create', payload)).toEqual(['message.create']);
  });

  it.each([
    ['no name', {}],
    ['a non-string name', { name: { nested: 'typing' } }],
    ['a name with invalid characters', { name: '../../admin' }],
    ['a too long name', { name: 'x'.repeat(101) }],
  ])('gives only event.emit for a payload with %s', (_label, payload) => {
    expect(deriveTopics('event.emit', payload)).toEqual(['event.emit']);
  });

  it("adds message.create.channel.{name} from the message's own channel, beside the request's", () => {
    const payload = { id_project: 'p1', channel: { name: 'chat21' }, request: { channel: { name: 'whatsapp' } } };
    expect(deriveTopics('message.create', payload)).toEqual([
      'message.create',
      'message.create.request.channel.whatsapp',
      'message.create.channel.chat21',
    ]);
  });

  it('adds only message.create.channel.{name} for a direct message without request', () => {
    expect(deriveTopics('message.create', { id_project: 'p1', channel: { name: 'chat21' } })).toEqual([
      'message.create',
      'message.create.channel.chat21',
    ]);
  });

  it('adds project_user.update.agent for an agent (roleType 1), as Tiledesk emits it', () => {
    expect(deriveTopics('project_user.update', { id_project: 'p1', roleType: 1, role: 'agent' })).toEqual([
      'project_user.update',
      'project_user.update.agent',
    ]);
  });

  it.each([
    ['a user (roleType 2)', { roleType: 2 }],
    ['no roleType', {}],
    ['a string roleType', { roleType: '1' }],
  ])('gives only project_user.update for %s', (_label, payload) => {
    expect(deriveTopics('project_user.update', { id_project: 'p1', ...payload })).toEqual(['project_user.update']);
  });

  it('derives nothing from other events carrying the same fields', () => {
    expect(deriveTopics('project_user.invite', { id_project: 'p1', roleType: 1, channel: { name: 'x' } })).toEqual([
      'project_user.invite',
    ]);
  });

  it('does not take the event.emit name field for message.create', () => {
    expect(deriveTopics('message.create', { name: 'telegram' })).toEqual(['message.create']);
  });
});

describe('topicFamily', () => {
  it.each([
    ['message.create', 'message.create'],
    ['message.create.channel.whatsapp', 'message.create'],
    ['message.create.request.channel.telegram', 'message.create'],
    ['project_user.update.agent', 'project_user.update'],
    ['event.emit.order_paid', 'event.emit'],
    ['request.create', 'request.create'],
  ])('%s is read with %s', (topic, family) => {
    expect(topicFamily(topic)).toBe(family);
  });

  it('puts every topic an event is delivered under in the family of its name', () => {
    const payload = { channel: { name: 'whatsapp' }, request: { channel: { name: 'telegram' } }, roleType: 1 };
    for (const { event } of EVENT_CATALOG) {
      for (const topic of deriveTopics(event, payload)) expect(topicFamily(topic)).toBe(topicFamily(event));
    }
  });
});

describe('the catalog covers every event Tiledesk sends to subscriptions', () => {
  // services/subscriptionNotifier.js and subscriptionNotifierQueued.js of tiledesk-server.
  it.each([
    'request.create', 'request.update', 'request.close', 'message.create', 'lead.create',
    'faq.create', 'faq.update', 'faq.delete', 'faqbot.create', 'faqbot.update', 'faqbot.delete',
    'department.create', 'department.update', 'department.delete', 'group.create', 'group.update', 'group.delete',
    'project_user.invite', 'project_user.update', 'project_user.update.agent', 'project_user.delete',
    'event.emit', 'operator.select', 'user.signup',
    'project.create', 'project.update', 'project.downgrade', 'project.delete',
  ])('%s', (event) => {
    expect(EVENT_CATALOG.find((entry) => entry.event === event)?.description).toMatch(/\S/);
  });

  it('with a description for every entry and refinement', () => {
    for (const entry of [...EVENT_CATALOG, ...EVENT_REFINEMENTS]) expect(entry.description).toMatch(/\S/);
    expect(EVENT_REFINEMENTS.map((refinement) => refinement.pattern)).toEqual([
      'message.create.request.channel.{name}',
      'message.create.channel.{name}',
      'event.emit.{name}',
    ]);
  });
});
