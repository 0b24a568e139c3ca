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
  {
    event: 'project_user.update.agent',
    description: 'project_user.update of an agent (payload.roleType 1); derived from project_user.update by the fan-out',
  },
  { event: 'group.create', description: 'Group created' },
  { event: 'group.update', description: 'Group updated' },
  { event: 'group.delete', description: 'Group deleted' },
  { event: 'event.emit', description: 'Any custom event emitted' },
  { event: 'project.create', description: 'Project created (payload: the project, id_project = its _id)' },
  { event: 'project.update', description: 'Project updated (payload: the project, id_project = its _id)' },
  { event: 'project.downgrade', description: 'Project plan downgraded (payload: the project, id_project = its _id)' },
  { event: 'project.delete', description: 'Project deleted (payload: the project, id_project = its _id)' },
  {
    event: 'user.signup',
    description: 'User signed up (payload: the user; Tiledesk sends no id_project, the publisher must add the project to route it to)',
  },
  { event: 'operator.select', description: 'Synchronous: choose the agent for a new conversation (one per project)' },
] as const;

/**
 * Refinements: a base event plus a name read from the payload at `namePath`, as Tiledesk emits
 * them beside the base event (its `messageEvent.js`, `eventService.js`).
 */
export const EVENT_REFINEMENTS = [
  {
    pattern: 'message.create.request.channel.{name}',
    base: 'message.create',
    prefix: 'message.create.request.channel.',
    namePath: ['request', 'channel', 'name'],
    description: 'message.create whose payload.request.channel.name is {name}',
  },
  {
    pattern: 'message.create.channel.{name}',
    base: 'message.create',
    prefix: 'message.create.channel.',
    namePath: ['channel', 'name'],
    description: "message.create whose payload.channel.name (the message's own channel) is {name}",
  },
  {
    pattern: 'event.emit.{name}',
    base: 'event.emit',
    prefix: 'event.emit.',
    namePath: ['name'],
    description: 'event.emit whose payload.name is {name}',
  },
] as const;

/**
 * Catalog events the fan-out derives from another one, as Tiledesk's `authEvent.js` emits
 * project_user.update.agent for a project_user.update whose roleType is TYPE_AGENTS (1).
 */
const DERIVED_EVENTS: readonly { event: string; base: string; applies: (payload: Record<string, unknown>) => boolean }[] = [
  { event: 'project_user.update.agent', base: 'project_user.update', applies: (payload) => payload.roleType === 1 },
];

/** The synchronous hook: subscribable, never published to the bus. */
export const OPERATOR_SELECT_EVENT = 'operator.select';

const baseEvents: ReadonlySet<string> = new Set(EVENT_CATALOG.map((entry) => entry.event));

/** A refinement name: what Tiledesk channel and custom event names look like. */
const REFINEMENT_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const REFINEMENT_NAME_MAX = 100;

/**
 * The shortest catalog event a topic is or extends (`message.create.channel.whatsapp` →
 * `message.create`, `project_user.update.agent` → `project_user.update`): every topic an event
 * is delivered under starts with its name, so the fan-out reads a family's subscribers in one query.
 */
export function topicFamily(topic: string): string {
  let family: string | undefined;
  for (const base of baseEvents) {
    if ((topic === base || topic.startsWith(`${base}.`)) && (family === undefined || base.length < family.length)) family = base;
  }
  return family ?? topic;
}

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
 * The topics one published event is delivered under: its own name plus the refinements and
 * derived events the payload selects, so subscribers of the base name and of each refinement
 * get it once each.
 */
export function deriveTopics(detailType: string, payload: Record<string, unknown>): string[] {
  const topics = [detailType];
  for (const { base, prefix, namePath } of EVENT_REFINEMENTS) {
    if (base !== detailType) continue;
    const name = readPath(payload, namePath);
    if (typeof name === 'string' && isKnownEvent(`${prefix}${name}`)) topics.push(`${prefix}${name}`);
  }
  for (const { event, base, applies } of DERIVED_EVENTS) {
    if (base === detailType && applies(payload)) topics.push(event);
  }
  return topics;
}

/** The value at a path of nested objects, or undefined where the path leaves them. */
export function readPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
