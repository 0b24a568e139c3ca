/** The Tiledesk events a subscription can name (DESIGN §2). */
export const EVENT_CATALOG = [
  { event: 'request.create', description: 'Conversation created' },
  { event: 'request.update', description: 'Conversation updated' },
  { event: 'request.close', description: 'Conversation closed (carries messages)' },
  { event: 'message.create', description: 'Message sent or received' },
  { event: 'lead.create', description: 'Lead created' },
  { event: 'faq.create', description: 'FAQ created' },
  { event: 'faq.update', description: 'FAQ updated' },
  { event: 'faq.delete', description: 'FAQ deleted' },
  { event: 'faqbot.create', description: 'Bot created' },
  { event: 'faqbot.update', description: 'Bot updated' },
  { event: 'faqbot.delete', description: 'Bot deleted' },
  { event: 'department.create', description: 'Department created' },
  { event: 'department.update', description: 'Department updated' },
  { event: 'department.delete', description: 'Department deleted' },
  { event: 'project_user.invite', description: 'Teammate invited' },
  { event: 'project_user.update', description: 'Teammate updated' },
  { event: 'project_user.delete', description: 'Teammate left' },
  { event: 'group.create', description: 'Group created' },
  { event: 'group.update', description: 'Group updated' },
  { event: 'group.delete', description: 'Group deleted' },
  { event: 'event.emit', description: 'Any custom event emitted' },
  { event: 'operator.select', description: 'Synchronous: choose the agent for a new conversation (one per project)' },
] as const;

/** Refinements: a base event plus a name taken from the payload. */
export const EVENT_REFINEMENTS = [
  {
    pattern: 'message.create.request.channel.{name}',
    base: 'message.create',
    prefix: 'message.create.request.channel.',
    description: 'message.create whose payload.request.channel.name is {name}',
  },
  {
    pattern: 'event.emit.{name}',
    base: 'event.emit',
    prefix: 'event.emit.',
    description: 'event.emit whose payload.name is {name}',
  },
] as const;

/** The synchronous hook: subscribable, never published to the bus. */
export const OPERATOR_SELECT_EVENT = 'operator.select';

const baseEvents: ReadonlySet<string> = new Set(EVENT_CATALOG.map((entry) => entry.event));

/** A refinement name: what Tiledesk channel and custom event names look like. */
const REFINEMENT_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const REFINEMENT_NAME_MAX = 100;

/** True when `event` is a catalog event or a well-formed refinement of one. */
export function isKnownEvent(event: string): boolean {
  if (baseEvents.has(event)) return true;
  return EVENT_REFINEMENTS.some(({ prefix }) => {
    if (!event.startsWith(prefix)) return false;
    const name = event.slice(prefix.length);
    return name.length > 0 && name.length <= REFINEMENT_NAME_MAX && REFINEMENT_NAME.test(name);
  });
}

/** True for events the platform publishes to the bus (everything but operator.select). */
export function isPublishedEvent(event: string): boolean {
  return event !== OPERATOR_SELECT_EVENT && isKnownEvent(event);
}

/**
 * The topics one published event is delivered under: its own name plus the refinement the
 * payload selects, so subscribers of the base name and of the refinement each get it once.
 */
export function deriveTopics(detailType: string, payload: Record<string, unknown>): string[] {
  const topics = [detailType];
  const refinementName = (() => {
    if (detailType === 'message.create') return readPath(payload, ['request', 'channel', 'name']);
    if (detailType === 'event.emit') return readPath(payload, ['name']);
    return undefined;
  })();
  if (typeof refinementName === 'string') {
    const topic = `${detailType}.${detailType === 'message.create' ? 'request.channel.' : ''}${refinementName}`;
    if (isKnownEvent(topic)) topics.push(topic);
  }
  return topics;
}

function readPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
