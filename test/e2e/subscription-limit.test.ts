import { randomBytes } from 'node:crypto';
import { expectError, subscriptionOf, subscriptionsOf } from '../support/api-expectations';
import { ApiReply, TestStack, startTestStack } from '../support/local-stack-harness';

/** The deployed stack's `subscriptionLimit` prop, which the template gives the function as SUBSCRIPTION_LIMIT. */
const LIMIT = 3;

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ subscriptionLimit: LIMIT });
});

afterAll(async () => {
  await t?.stop();
});

let projectCount = 0;
let targetCount = 0;

function newProject(): { projectId: string; token: string } {
  const projectId = `limit${++projectCount}-${randomBytes(3).toString('hex')}`;
  return { projectId, token: t.tokenFor({ [projectId]: 'owner' }) };
}

const newTarget = (): string => `http://127.0.0.1:9/limit-${++targetCount}`;

function create(projectId: string, token: string, target = newTarget(), event = 'request.create'): Promise<ApiReply> {
  return t.api('POST', `/${projectId}/subscriptions`, { token, body: { event, target } });
}

/** Fills the project up to the limit and returns the ids created. */
async function fill(projectId: string, token: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < LIMIT; i++) {
    const reply = await create(projectId, token);
    expect(reply.status).toBe(200);
    ids.push(subscriptionOf(reply)._id);
  }
  return ids;
}

const listLength = async (projectId: string, token: string): Promise<number> =>
  subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token })).length;

describe('the per-project subscription limit (SUBSCRIPTION_LIMIT=3)', () => {
  it('refuses the 4th subscription with 409 and a clear message', async () => {
    const { projectId, token } = newProject();
    await fill(projectId, token);

    const reply = await create(projectId, token);

    expectError(reply, 409, new RegExp(`limit of ${LIMIT} subscriptions`));
    expect(await listLength(projectId, token)).toBe(LIMIT);
  });

  it('accepts a create again after a delete, including the pair refused at the limit', async () => {
    const { projectId, token } = newProject();
    const [firstId] = await fill(projectId, token);
    const refusedTarget = newTarget();
    expectError(await create(projectId, token, refusedTarget), 409);

    expect((await t.api('DELETE', `/${projectId}/subscriptions/${firstId}`, { token })).status).toBe(200);

    // The refused create must not have kept the (event, target) pair for itself.
    expect((await create(projectId, token, refusedTarget)).status).toBe(200);
    expectError(await create(projectId, token), 409, /limit/);
    expect(await listLength(projectId, token)).toBe(LIMIT);
  });

  it('counts per project: a full project does not stop another', async () => {
    const full = newProject();
    const other = newProject();
    await fill(full.projectId, full.token);

    expect((await create(other.projectId, other.token)).status).toBe(200);
  });

  it('does not count refused creates, nor a duplicate create answered with the existing subscription', async () => {
    const { projectId, token } = newProject();
    const duplicate = newTarget();
    const first = await create(projectId, token, duplicate);
    expect(first.status).toBe(200);
    const again = await create(projectId, token, duplicate);
    expect(again.status).toBe(200);
    expect(subscriptionOf(again)._id).toBe(subscriptionOf(first)._id);
    expect((await create(projectId, token, 'http://10.0.0.1/hook')).status).toBe(400);

    expect((await create(projectId, token)).status).toBe(200);
    expect((await create(projectId, token)).status).toBe(200);
    expect(await listLength(projectId, token)).toBe(LIMIT);
  });

  it('lets only one of two concurrent creates take the last place', async () => {
    const { projectId, token } = newProject();
    for (let i = 0; i < LIMIT - 1; i++) expect((await create(projectId, token)).status).toBe(200);

    const replies = await Promise.all([create(projectId, token), create(projectId, token)]);

    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409]);
    expect(await listLength(projectId, token)).toBe(LIMIT);
  });

  it('answers a duplicate with the existing subscription even when the project is full', async () => {
    const { projectId, token } = newProject();
    const target = newTarget();
    const first = await create(projectId, token, target);
    expect(first.status).toBe(200);
    expect((await create(projectId, token)).status).toBe(200);
    expect((await create(projectId, token)).status).toBe(200);
    // Full: a new pair is refused for the limit, and the list holds the limit.
    expectError(await create(projectId, token), 409, /limit/);
    expect(await listLength(projectId, token)).toBe(LIMIT);

    const again = await create(projectId, token, target);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('x-hook-secret')).toBe(first.body.secret);
  });

  it('counts a subscription off once when it is deleted by several requests at once', async () => {
    const { projectId, token } = newProject();
    expect((await create(projectId, token)).status).toBe(200);
    for (let round = 0; round < 8; round++) {
      const temporary = subscriptionOf(await create(projectId, token))._id;
      const statuses = await Promise.all([0, 1, 2].map(() => t.api('DELETE', `/${projectId}/subscriptions/${temporary}`, { token })));
      expect(statuses.filter((reply) => reply.status === 200)).toHaveLength(1);
    }
    // One subscription stays: the project takes two more, and no third (each extra count-off let one more in).
    expect((await create(projectId, token)).status).toBe(200);
    expect((await create(projectId, token)).status).toBe(200);
    expectError(await create(projectId, token), 409, /limit/);
    expect(await listLength(projectId, token)).toBe(LIMIT);
  });

  it('two concurrent identical creates both answer 200 with the one subscription stored', async () => {
    const { projectId, token } = newProject();
    const target = newTarget();
    const replies = await Promise.all([create(projectId, token, target), create(projectId, token, target)]);

    expect(replies.map((reply) => reply.status)).toEqual([200, 200]);
    expect(subscriptionOf(replies[0]!)._id).toBe(subscriptionOf(replies[1]!)._id);
    expect(await listLength(projectId, token)).toBe(1);
  });
});
