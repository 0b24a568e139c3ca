import * as z from 'zod';
import { ValidationError } from './errors';
import { EVENT_CATALOG, EVENT_REFINEMENTS, OPERATOR_SELECT_EVENT, isKnownEvent } from './event-catalog';
import { routingRequestSchema } from './operator-select';

/**
 * What each catalog event's payload looks like, as zod schemas carrying one example each. The
 * schemas describe Tiledesk's objects as its `subscriptionNotifier.js` sends them (the model
 * documents, populated where Tiledesk populates them): the fields a receiver relies on are
 * named, the rest pass through (`looseObject`), as Tiledesk adds fields between versions.
 *
 * One source for three readers: `GET /events` serves each example, the OpenAPI document
 * (`openapi-document.ts`) lists each schema with its example under `webhooks`, and the
 * console's "send an example event" publishes the example as a real event. A test checks that
 * every example passes its own schema, so an example cannot drift from what it illustrates.
 */

const PROJECT = '65c5f3599faf2d04cd7da528';
const at = '2026-11-20T10:15:30.000Z';

const id = z.string().min(1).meta({ description: 'MongoDB ObjectId, as a string' });
const projectId = z.string().min(1).meta({ description: 'The project the event belongs to: it is routed to this project’s subscribers' });
const dates = { createdAt: z.string().optional(), updatedAt: z.string().optional() };
const channel = z.looseObject({ name: z.string().meta({ description: 'chat21, email, telegram, whatsapp, messenger, …' }) });

const lead = { _id: '6750a1f2c3d4e5f6a7b8c9d1', lead_id: 'f3b1c2d4-guest', fullname: 'Ada Lovelace', email: 'ada@example.com', id_project: PROJECT, createdAt: at };
const request = {
  _id: '6750a1f2c3d4e5f6a7b8c9d0',
  request_id: 'support-group-65c5f3599faf2d04cd7da528-f3b1c2d4',
  id_project: PROJECT,
  first_text: 'Hello, I need help with my order',
  status: 200,
  channel: { name: 'chat21' },
  department: { _id: '65c5f3599faf2d04cd7da52b', name: 'Default Department' },
  lead,
  participants: ['65c5f3599faf2d04cd7da52a'],
  createdAt: at,
  updatedAt: at,
};
const message = {
  _id: '6750a1f2c3d4e5f6a7b8c9d2',
  id_project: PROJECT,
  recipient: request.request_id,
  sender: 'f3b1c2d4-guest',
  senderFullname: 'Ada Lovelace',
  text: 'Hello, I need help with my order',
  type: 'text',
  status: 200,
  channel_type: 'group',
  channel: { name: 'chat21' },
  request: { _id: request._id, request_id: request.request_id, id_project: PROJECT, channel: { name: 'chat21' } },
  createdAt: at,
};
const projectUser = { _id: '65c5f3599faf2d04cd7da52c', id_project: PROJECT, id_user: '65c5f3599faf2d04cd7da52a', role: 'agent', roleType: 1, user_available: true, createdBy: '65c5f3599faf2d04cd7da529', createdAt: at };
const faq = { _id: '6750a1f2c3d4e5f6a7b8c9d3', id_faq_kb: '6750a1f2c3d4e5f6a7b8c9d4', question: 'Where is my order?', answer: 'You can follow it from your account page.', id_project: PROJECT, createdAt: at };
const faqbot = { _id: '6750a1f2c3d4e5f6a7b8c9d4', name: 'Order bot', description: 'Answers order questions', type: 'tilebot', language: 'en', id_project: PROJECT, createdAt: at };
const department = { _id: '65c5f3599faf2d04cd7da52b', name: 'Sales', routing: 'assigned', default: false, status: 1, id_project: PROJECT, createdAt: at };
const group = { _id: '6750a1f2c3d4e5f6a7b8c9d5', name: 'Night shift', members: ['65c5f3599faf2d04cd7da52a'], id_project: PROJECT, createdAt: at };
const project = { _id: PROJECT, id_project: PROJECT, name: 'Acme support', activeOperatingHours: false, profile: { name: 'Sandbox', type: 'free' }, createdAt: at };

const requestSchema = z.looseObject({
  _id: id,
  request_id: z.string().min(1),
  id_project: projectId,
  first_text: z.string().optional(),
  status: z.number().int().optional().meta({ description: '100 unserved, 200 served, 1000 closed' }),
  channel: channel.optional(),
  department: z.unknown().optional(),
  lead: z.unknown().optional(),
  participants: z.array(z.string()).optional(),
  ...dates,
});
const messageSchema = z.looseObject({
  _id: id,
  id_project: projectId,
  recipient: z.string(),
  sender: z.string(),
  senderFullname: z.string().optional(),
  text: z.string().optional(),
  type: z.string().optional(),
  channel_type: z.string().optional(),
  channel: channel.optional().meta({ description: 'Routes message.create.channel.{name}' }),
  request: z.looseObject({ request_id: z.string(), channel: channel.optional() }).optional().meta({ description: 'Routes message.create.request.channel.{name}' }),
  ...dates,
});
const leadSchema = z.looseObject({ _id: id, lead_id: z.string(), fullname: z.string().optional(), email: z.string().optional(), id_project: projectId, ...dates });
const faqSchema = z.looseObject({ _id: id, id_faq_kb: z.string(), question: z.string(), answer: z.string().optional(), id_project: projectId, ...dates });
const faqbotSchema = z.looseObject({ _id: id, name: z.string(), type: z.string().optional(), id_project: projectId, ...dates });
const departmentSchema = z.looseObject({ _id: id, name: z.string(), routing: z.string().optional(), id_project: projectId, ...dates });
const projectUserSchema = z.looseObject({
  _id: id,
  id_project: projectId,
  id_user: z.string(),
  role: z.string().meta({ description: 'owner, admin, supervisor, agent or a custom role' }),
  roleType: z.number().int().optional().meta({ description: '1 for an agent: derives project_user.update.agent' }),
  user_available: z.boolean().optional(),
  ...dates,
});
const groupSchema = z.looseObject({ _id: id, name: z.string(), members: z.array(z.string()), id_project: projectId, ...dates });
const eventEmitSchema = z.looseObject({
  _id: id,
  name: z.string().meta({ description: 'The custom event’s name: routes event.emit.{name}' }),
  attributes: z.record(z.string(), z.unknown()).optional(),
  id_project: projectId,
  ...dates,
});
const projectSchema = z.looseObject({ _id: id, id_project: projectId.meta({ description: 'The project’s own _id' }), name: z.string(), ...dates });
const userSchema = z.looseObject({
  _id: id,
  email: z.string(),
  firstname: z.string().optional(),
  lastname: z.string().optional(),
  id_project: projectId.meta({ description: 'Added by the publisher: Tiledesk sends user.signup without a project' }),
  ...dates,
});

type CatalogEvent = (typeof EVENT_CATALOG)[number]['event'];

/** One schema and its example per catalog event. */
const PAYLOADS: Record<CatalogEvent, [z.ZodType, Record<string, unknown>]> = {
  'request.create': [requestSchema, request],
  'request.update': [requestSchema, { ...request, status: 200, updatedAt: '2026-11-20T10:16:02.000Z' }],
  'request.close': [
    requestSchema,
    { ...request, status: 1000, closed_at: '2026-11-20T10:40:00.000Z', messages: [{ sender: 'f3b1c2d4-guest', text: 'Hello, I need help with my order', createdAt: at }] },
  ],
  'message.create': [messageSchema, message],
  'lead.create': [leadSchema, lead],
  'faq.create': [faqSchema, faq],
  'faq.update': [faqSchema, { ...faq, answer: 'Follow it from Orders in your account.' }],
  'faq.delete': [faqSchema, faq],
  'faqbot.create': [faqbotSchema, faqbot],
  'faqbot.update': [faqbotSchema, { ...faqbot, description: 'Answers order and shipping questions' }],
  'faqbot.delete': [faqbotSchema, faqbot],
  'department.create': [departmentSchema, department],
  'department.update': [departmentSchema, { ...department, routing: 'pooled' }],
  'department.delete': [departmentSchema, department],
  'project_user.invite': [projectUserSchema, { ...projectUser, user_available: false }],
  'project_user.update': [projectUserSchema, projectUser],
  'project_user.delete': [projectUserSchema, projectUser],
  'project_user.update.agent': [projectUserSchema, projectUser],
  'group.create': [groupSchema, group],
  'group.update': [groupSchema, { ...group, members: [...group.members, '65c5f3599faf2d04cd7da52d'] }],
  'group.delete': [groupSchema, group],
  'event.emit': [eventEmitSchema, { _id: '6750a1f2c3d4e5f6a7b8c9d6', name: 'typing.start', attributes: { request_id: request.request_id }, id_project: PROJECT, createdAt: at }],
  'project.create': [projectSchema, project],
  'project.update': [projectSchema, { ...project, name: 'Acme customer care' }],
  'project.downgrade': [projectSchema, { ...project, profile: { name: 'free', type: 'free' } }],
  'project.delete': [projectSchema, project],
  'user.signup': [userSchema, { _id: '65c5f3599faf2d04cd7da52a', email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper', id_project: PROJECT, createdAt: at }],
  'operator.select': [
    routingRequestSchema,
    {
      id_project: PROJECT,
      operators: [{ id_user: '65c5f3599faf2d04cd7da52a' }],
      agents: [{ id_user: '65c5f3599faf2d04cd7da52a' }, { id_user: '65c5f3599faf2d04cd7da52d' }],
      available_agents: [{ id_user: '65c5f3599faf2d04cd7da52a' }],
      department: { _id: department._id, name: department.name, routing: 'assigned' },
      context: { request: { request_id: request.request_id, first_text: request.first_text } },
    },
  ],
};

/** The project id every example carries; a published example replaces it with the caller's project. */
export const EXAMPLE_PROJECT_ID = PROJECT;

/** The payload schema of a catalog event (its refinements share their base event's). */
export function payloadSchemaOf(event: CatalogEvent): z.ZodType {
  return PAYLOADS[event][0];
}

/** A realistic payload of a catalog event, as a receiver gets it. */
export function examplePayloadOf(event: CatalogEvent): Record<string, unknown> {
  return structuredClone(PAYLOADS[event][1]);
}

/**
 * The example payload of `event` for `projectId`: the example project id becomes `projectId`
 * wherever it appears (`id_project`s, and Tiledesk's `request_id`, which embeds it), so the event
 * routes there. Project ids are path-safe (`idSchema`), so they need no escaping in JSON.
 */
export function examplePayloadFor(event: CatalogEvent, projectId: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(PAYLOADS[event][1]).replaceAll(PROJECT, projectId)) as Record<string, unknown>;
}

/** The catalog as `GET /events` serves it: each event with its description and example payload. */
export function catalogWithExamples(): { event: CatalogEvent; description: string; example: Record<string, unknown> }[] {
  return EVENT_CATALOG.map(({ event, description }) => ({ event, description, example: examplePayloadOf(event) }));
}

/** True for a catalog event name (not a refinement). */
export function isCatalogEvent(event: string): event is CatalogEvent {
  return Object.hasOwn(PAYLOADS, event);
}

/** Catalog events the fan-out derives rather than the platform publishes, and what is published instead. */
const PUBLISHED_AS: Partial<Record<CatalogEvent, CatalogEvent>> = { 'project_user.update.agent': 'project_user.update' };

/**
 * The event to publish so that a subscriber of `subscribed` (a catalog event or a refinement)
 * gets the example: a refinement publishes its base event with the refinement's name at its
 * path in the payload, a derived event the event it is derived from, both as the platform would.
 * Routed to `projectId`. operator.select is not published (it is a synchronous call).
 */
export function exampleEventFor(subscribed: string, projectId: string): { event: CatalogEvent; payload: Record<string, unknown> } {
  if (subscribed === OPERATOR_SELECT_EVENT) {
    throw new ValidationError('operator.select is not published: call POST /{projectId}/operator-select with the example instead', [
      { field: 'event', message: 'operator.select is a synchronous call, not an event' },
    ]);
  }
  if (!isKnownEvent(subscribed)) throw new ValidationError('unknown event', [{ field: 'event', message: 'unknown event; see GET /events' }]);
  if (isCatalogEvent(subscribed)) return { event: PUBLISHED_AS[subscribed] ?? subscribed, payload: examplePayloadFor(subscribed, projectId) };
  const refinement = EVENT_REFINEMENTS.find(({ prefix }) => subscribed.startsWith(prefix))!;
  const event = refinement.base as CatalogEvent;
  const payload = examplePayloadFor(event, projectId);
  let node: Record<string, unknown> = payload;
  for (const key of refinement.namePath.slice(0, -1)) {
    const next = node[key];
    node[key] = typeof next === 'object' && next !== null ? { ...(next as Record<string, unknown>) } : {};
    node = node[key] as Record<string, unknown>;
  }
  node[refinement.namePath.at(-1)!] = subscribed.slice(refinement.prefix.length);
  return { event, payload };
}
