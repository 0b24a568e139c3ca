import { createHmac, randomBytes } from 'node:crypto';
import { OPERATOR_SELECT_ROUTE, SUBSCRIPTION_ROUTES, SubscriptionRoute } from '../../lambdas/core/settings';
import { signToken } from '../../lambdas/core/token';
import { subscriptionOf } from '../support/api-expectations';
import { ApiReply, TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/*
 * Authorization matrix (DESIGN §3, §6): every route × every kind of token × {own project,
 * other project}, each cell its own test with the status it must answer, and never a 5xx.
 *
 * Three projects:
 *   HOME  — where the agent, admin and owner tokens have their role;
 *   OTHER — owns the subscriptions (and the attempt log) used as "another project's ids";
 *           the "admin of another project" token is admin of OTHER;
 *   THIRD — nobody's: no token but the platform's has a role on it.
 *
 * Columns:
 *   own project   — the path names HOME; ids and log ids are HOME's.
 *   other project — routes with {id}: the path names HOME, the ids are OTHER's (→ 404 for a
 *                   caller who may manage HOME, since a subscription is only reachable through
 *                   its own project); routes without {id}: the path names THIRD, a project the
 *                   token has no role on (→ 403, the platform excepted).
 *
 * The four forged kinds carry an owner claim on HOME, so the forgery is the only thing wrong.
 */

type Route = SubscriptionRoute | typeof OPERATOR_SELECT_ROUTE;

const ROUTES: readonly Route[] = [...SUBSCRIPTION_ROUTES, OPERATOR_SELECT_ROUTE];

const TOKEN_KINDS = [
  'no token',
  'expired',
  'wrong key',
  'alg none',
  'HS512',
  'agent',
  'admin of another project',
  'admin',
  'owner',
  'platform',
] as const;
type TokenKind = (typeof TOKEN_KINDS)[number];

const COLUMNS = ['own project', 'other project'] as const;
type Column = (typeof COLUMNS)[number];

/** Tokens the API must refuse as unauthenticated, and the reason it must give (from the authorizer). */
const UNAUTHENTICATED: Partial<Record<TokenKind, RegExp>> = {
  'no token': /^Missing or malformed Authorization header$/,
  expired: /^Token expired$/,
  'wrong key': /^Invalid token signature$/,
  'alg none': /^Unsupported token algorithm$/,
  HS512: /^Unsupported token algorithm$/,
};

/** Valid tokens without the owner or admin role on the path's project. */
const WITHOUT_MANAGE_RIGHT: readonly TokenKind[] = ['agent', 'admin of another project'];

/** The status each route answers on success, for the bodies this file sends. */
const SUCCESS: Record<Route, number> = {
  'GET /events': 200,
  'POST /{projectId}/subscriptions': 200,
  'GET /{projectId}/subscriptions': 200,
  'GET /{projectId}/subscriptions/history': 200,
  'GET /{projectId}/subscriptions/{id}': 200,
  'PUT /{projectId}/subscriptions/{id}': 200,
  'DELETE /{projectId}/subscriptions/{id}': 200,
  'GET /{projectId}/subscriptions/{id}/logs': 200,
  'POST /{projectId}/subscriptions/{id}/rotate-secret': 200,
  'POST /{projectId}/subscriptions/{id}/test': 200,
  'POST /{projectId}/subscriptions/{id}/recover': 202,
  'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry': 202,
  'DELETE /{projectId}/subscriptions/{id}/health': 200,
  'POST /{projectId}/operator-select': 200,
};

/** Routes that change their subscription: each cell gets a fresh one, made in setup by its project's owner. */
const SIDE_EFFECTING: readonly Route[] = [
  'PUT /{projectId}/subscriptions/{id}',
  'DELETE /{projectId}/subscriptions/{id}',
  'POST /{projectId}/subscriptions/{id}/rotate-secret',
];

const hasId = (route: Route): boolean => route.includes('{id}');

/** The expectation table's one rule set. */
function expectedStatus(route: Route, kind: TokenKind, column: Column): number {
  if (UNAUTHENTICATED[kind]) return 401;
  if (route === 'GET /events') return 200;
  if (WITHOUT_MANAGE_RIGHT.includes(kind)) return 403;
  if (column === 'other project') {
    if (hasId(route)) return 404;
    if (kind !== 'platform') return 403;
  }
  return SUCCESS[route];
}

interface Cell {
  n: number;
  kind: TokenKind;
  column: Column;
  route: Route;
  expected: number;
  title: string;
}

const CELLS: Cell[] = ROUTES.flatMap((route) =>
  TOKEN_KINDS.flatMap((kind) =>
    COLUMNS.map((column) => ({ kind, column, route, expected: expectedStatus(route, kind, column) })),
  ),
).map((cell, n) => ({ ...cell, n, title: `${cell.kind} × ${cell.column} × ${cell.route} → ${cell.expected}` }));

const suffix = randomBytes(3).toString('hex');
const HOME = `authz-home-${suffix}`;
const OTHER = `authz-other-${suffix}`;
const THIRD = `authz-third-${suffix}`;

const USER_OF: Partial<Record<TokenKind, string>> = {
  agent: 'authz-agent',
  'admin of another project': 'authz-other-admin',
  admin: 'authz-admin',
  owner: 'authz-owner',
  platform: 'tiledesk-platform',
};

let t: TestStack;
let receiver: Receiver;
let tokens: Record<TokenKind, string | null>;
/** Per project: a shared subscription and one attempt log id of it. */
const fixtures: Record<string, { subscriptionId: string; logId: string }> = {};
/** Fresh subscriptions of side-effecting cells, by cell number, as their owner saw them at creation. */
const fresh = new Map<number, { projectId: string; view: Record<string, unknown> }>();

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Valid claims (owner of HOME, not expired) under a header and a signature of one's choosing. */
function forge(alg: string, sign: (unsigned: string) => string): string {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg, typ: 'JWT' })}.${encode({ sub: 'authz-forger', projects: { [HOME]: 'owner' }, iat: now, exp: now + 3600 })}`;
  return `${unsigned}.${sign(unsigned)}`;
}

function mintTokens(): Record<TokenKind, string | null> {
  const homeOwnerClaims = { sub: 'authz-forger', projects: { [HOME]: 'owner' as const } };
  return {
    'no token': null,
    expired: signToken(homeOwnerClaims, t.jwtSecret, -60),
    'wrong key': signToken(homeOwnerClaims, randomBytes(24).toString('hex')),
    'alg none': forge('none', () => ''),
    HS512: forge('HS512', (unsigned) => createHmac('sha512', t.jwtSecret).update(unsigned).digest('base64url')),
    agent: t.tokenFor({ [HOME]: 'agent' }, USER_OF.agent),
    'admin of another project': t.tokenFor({ [OTHER]: 'admin' }, USER_OF['admin of another project']),
    admin: t.tokenFor({ [HOME]: 'admin' }, USER_OF.admin),
    owner: t.tokenFor({ [HOME]: 'owner' }, USER_OF.owner),
    platform: t.platformToken(),
  };
}

const cellTarget = (cell: Cell): string => `${receiver.url}?cell=${cell.n}`;

const ownerOf = (projectId: string): string => t.tokenFor({ [projectId]: 'owner' }, 'authz-fixture-owner');

async function createAsOwner(projectId: string, target: string): Promise<Record<string, unknown>> {
  const reply = await t.api('POST', `/${projectId}/subscriptions`, {
    token: ownerOf(projectId),
    body: { event: 'request.create', target },
  });
  if (reply.status !== 200) throw new Error(`setup: create in ${projectId} answered ${reply.status} ${reply.text}`);
  const { secret: _secret, ...view } = subscriptionOf(reply);
  return view as unknown as Record<string, unknown>;
}

/** A project with one subscription and one real attempt log (of a published event: a test ping's is not replayed). */
async function seedProject(projectId: string): Promise<void> {
  const view = await createAsOwner(projectId, `${receiver.url}?fixture=${projectId}`);
  const subscriptionId = String(view._id);
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId, fixture: true } }]);
  const [log] = await eventually(async () => {
    const logs = await logsOf(t, projectId, subscriptionId);
    expect(logs.map((entry) => entry.outcome)).toEqual(['delivered']);
    return logs;
  });
  fixtures[projectId] = { subscriptionId, logId: String((log as unknown as { logId: string }).logId) };
}

/** The path's project and ids for a cell, per the column rules above. */
function pathOf(cell: Cell): { path: string; projectId: string; subscriptionId?: string } {
  const [, template = ''] = cell.route.split(' ');
  const projectId = hasId(cell.route) || cell.column === 'own project' ? HOME : THIRD;
  const idsFrom = cell.column === 'own project' ? HOME : OTHER;
  const shared = fixtures[idsFrom];
  if (!shared) throw new Error(`no fixture for ${idsFrom}`);
  const subscriptionId = fresh.has(cell.n) ? String(fresh.get(cell.n)?.view._id) : shared.subscriptionId;
  const path = template
    .replace('{projectId}', projectId)
    .replace('{id}', subscriptionId)
    .replace('{logId}', shared.logId);
  return { path, projectId, subscriptionId: hasId(cell.route) ? subscriptionId : undefined };
}

function bodyOf(cell: Cell): unknown {
  switch (cell.route) {
    case 'POST /{projectId}/subscriptions':
      return { event: 'request.create', target: cellTarget(cell) };
    case 'PUT /{projectId}/subscriptions/{id}':
      return { target: cellTarget(cell) };
    case 'POST /{projectId}/subscriptions/{id}/recover':
      return { since: new Date(Date.now() - 3_600_000).toISOString() };
    case 'POST /{projectId}/operator-select':
      return { operators: [{ id_user: 'u1' }] };
    default:
      return undefined;
  }
}

/** What a successful answer of each route must show, beyond its status. */
function expectSuccessBody(cell: Cell, reply: ApiReply, projectId: string, subscriptionId: string | undefined): void {
  const parsed: unknown = JSON.parse(reply.text);
  const subscription = { _id: subscriptionId, id_project: projectId };
  switch (cell.route) {
    case 'GET /events':
      expect(reply.body.events).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'request.create' })]));
      break;
    case 'POST /{projectId}/subscriptions':
      expect(reply.body).toMatchObject({ id_project: projectId, target: cellTarget(cell), createdBy: USER_OF[cell.kind] });
      break;
    case 'GET /{projectId}/subscriptions':
      expect(Array.isArray(parsed)).toBe(true);
      break;
    case 'GET /{projectId}/subscriptions/history':
    case 'GET /{projectId}/subscriptions/{id}/logs':
      expect(reply.body).toEqual({ items: expect.any(Array), nextCursor: null });
      break;
    case 'GET /{projectId}/subscriptions/{id}':
    case 'DELETE /{projectId}/subscriptions/{id}':
      expect(reply.body).toMatchObject(subscription);
      break;
    case 'DELETE /{projectId}/subscriptions/{id}/health':
      expect(reply.body).toMatchObject({ ...subscription, health: { circuit: 'closed', consecutiveFailures: 0, lane: 'fast' } });
      break;
    case 'PUT /{projectId}/subscriptions/{id}':
      expect(reply.body).toMatchObject({ ...subscription, target: cellTarget(cell) });
      break;
    case 'POST /{projectId}/subscriptions/{id}/rotate-secret':
      expect(reply.body).toMatchObject({ ...subscription, secret: expect.stringMatching(/^whsec_/) });
      break;
    case 'POST /{projectId}/subscriptions/{id}/test':
      expect(reply.body).toMatchObject({ projectId, subscriptionId, outcome: 'delivered' });
      break;
    case 'POST /{projectId}/subscriptions/{id}/recover':
      expect(reply.body).toEqual({ recovered: expect.any(Number), webhookIds: expect.any(Array), alreadyRecovered: 0, unrecoverable: 0, nextCursor: null });
      break;
    case 'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry':
      expect(reply.body).toEqual({ enqueued: 1, webhookId: expect.any(String) });
      break;
    case 'POST /{projectId}/operator-select':
      expect(reply.body).toMatchObject({ id_project: projectId, operators: [{ id_user: 'u1' }] });
      expect(reply.headers.get('x-operator-select-path')).toBe('default');
      break;
  }
}

/** The contract's error body, with a message that says why. */
function expectErrorBody(cell: Cell, reply: ApiReply, projectId: string): void {
  const reason =
    UNAUTHENTICATED[cell.kind] ??
    (cell.expected === 403 ? new RegExp(`project ${projectId}`) : cell.expected === 404 ? /not found/ : /\S/);
  expect(reply.body).toEqual({ success: false, msg: expect.stringMatching(reason) });
}

beforeAll(async () => {
  t = await startTestStack();
  receiver = await startReceiver();
  tokens = mintTokens();
  await seedProject(HOME);
  await seedProject(OTHER);
  for (const cell of CELLS.filter((candidate) => SIDE_EFFECTING.includes(candidate.route))) {
    const projectId = cell.column === 'own project' ? HOME : OTHER;
    fresh.set(cell.n, { projectId, view: await createAsOwner(projectId, `${receiver.url}?fresh=${cell.n}`) });
  }
});

afterAll(async () => {
  await receiver?.close();
  await t?.stop();
});

describe('authorization matrix', () => {
  test.each(CELLS)('$title', async (cell) => {
    const { path, projectId, subscriptionId } = pathOf(cell);
    const [method = 'GET'] = cell.route.split(' ');

    const reply = await t.api(method, path, { token: tokens[cell.kind], body: bodyOf(cell) });

    expect({ cell: cell.title, path, status: reply.status, serverError: reply.status >= 500 }).toEqual({
      cell: cell.title,
      path,
      status: cell.expected,
      serverError: false,
    });
    if (cell.expected < 400) {
      expectSuccessBody(cell, reply, projectId, subscriptionId);
      return;
    }
    expectErrorBody(cell, reply, projectId);

    // A refused request changes nothing.
    const seeded = fresh.get(cell.n);
    if (seeded) {
      const read = await t.api('GET', `/${seeded.projectId}/subscriptions/${String(seeded.view._id)}`, {
        token: ownerOf(seeded.projectId),
      });
      expect({ status: read.status, body: read.body }).toEqual({ status: 200, body: seeded.view });
    }
    if (cell.route === 'POST /{projectId}/subscriptions') {
      const list = await t.api('GET', `/${projectId}/subscriptions`, { token: tokens.platform });
      expect(list.text).not.toContain(`cell=${cell.n}"`);
    }
  });
});
