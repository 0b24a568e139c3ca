import { createHmac, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { signToken } from '../../lambdas/core/token';
import { callWithAuthorization, expectError, subscriptionsOf } from '../support/api-expectations';
import { apiProjects } from '../support/api-projects';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/**
 * Who may call the subscription API (DESIGN §6): tokens refused (401) and roles refused (403),
 * route by route; test/e2e/authorization-matrix.test.ts covers every route × token kind.
 */

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

const { newProject, newTarget, create, createOk } = apiProjects(() => t, 'auth');

describe('authentication (401) and authorization (403)', () => {
  const forge = (header: object, claims: object, signature = ''): string =>
    [header, claims].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + `.${signature}`;

  const listAs = (projectId: string, authorization: string | undefined) =>
    callWithAuthorization(t.stack.apiUrl, `/${projectId}/subscriptions`, authorization);

  const unauthorized = { status: 401, body: { success: false, msg: expect.stringMatching(/\S/) } };

  it('answers 401 to two Authorization headers: API Gateway joins them with a comma, which is no token', async () => {
    const { projectId, token } = newProject();
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${t.stack.apiUrl}/${projectId}/subscriptions`);
      const request = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers: ['host', url.host, 'authorization', `Bearer ${token}`, 'authorization', `Bearer ${token}`] },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(401);
    // One of them alone is accepted.
    expect((await listAs(projectId, `Bearer ${token}`)).status).toBe(200);
  });

  it('answers 401 without an Authorization header', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, undefined)).toEqual({
      status: 401,
      body: { success: false, msg: 'Missing or malformed Authorization header' },
    });
  });

  it('answers 401 to a Basic Authorization header', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, 'Basic x')).toEqual(unauthorized);
  });

  it('answers 401 to a token that is not a JWT', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, 'Bearer not-a-jwt')).toEqual(unauthorized);
  });

  it('answers 401 to an expired token', async () => {
    const { projectId } = newProject();
    const expired = signToken({ sub: 'u', projects: { [projectId]: 'owner' } }, t.jwtSecret, -60);
    expect(await listAs(projectId, `Bearer ${expired}`)).toEqual({
      status: 401,
      body: { success: false, msg: 'Token expired' },
    });
  });

  it('answers 401 to a token signed with another secret', async () => {
    const { projectId } = newProject();
    const forged = signToken({ sub: 'u', projects: { [projectId]: 'owner' } }, 'another-secret');
    expect(await listAs(projectId, `Bearer ${forged}`)).toEqual({
      status: 401,
      body: { success: false, msg: 'Invalid token signature' },
    });
  });

  it('answers 401 to an unsigned alg:none token', async () => {
    const { projectId } = newProject();
    const now = Math.floor(Date.now() / 1000);
    const unsigned = forge({ alg: 'none', typ: 'JWT' }, { sub: 'u', projects: { [projectId]: 'owner' }, exp: now + 600 });
    expect(await listAs(projectId, `Bearer ${unsigned}`)).toEqual(unauthorized);
  });

  it('answers 401 to a correctly signed token without exp', async () => {
    const { projectId } = newProject();
    const unsigned = forge({ alg: 'HS256', typ: 'JWT' }, { sub: 'u', projects: { [projectId]: 'owner' } }).slice(0, -1);
    const token = `${unsigned}.${createHmac('sha256', t.jwtSecret).update(unsigned).digest('base64url')}`;
    expect(await listAs(projectId, `Bearer ${token}`)).toEqual(unauthorized);
  });

  it('accepts Tiledesk’s "JWT <token>" form', async () => {
    const { projectId, token } = newProject();
    expect(await listAs(projectId, `JWT ${token}`)).toEqual({ status: 200, body: [] });
  });

  it('answers 401 on every route, before looking at the request', async () => {
    const { projectId } = newProject();
    const id = randomBytes(12).toString('hex');
    const replies = await Promise.all([
      t.api('POST', `/${projectId}/subscriptions`, { token: null, body: { event: 'foo.bar' } }),
      t.api('GET', `/${projectId}/subscriptions/${id}`, { token: null }),
      t.api('PUT', `/${projectId}/subscriptions/${id}`, { token: null, body: { status: 'x' } }),
      t.api('DELETE', `/${projectId}/subscriptions/${id}`, { token: null }),
      t.api('GET', `/${projectId}/subscriptions/${id}/logs`, { token: null }),
      t.api('GET', `/${projectId}/subscriptions/history`, { token: null }),
      t.api('GET', '/events', { token: null }),
    ]);
    for (const reply of replies) expectError(reply, 401);
  });

  it('answers 403 to an agent of the project', async () => {
    const { projectId, token: ownerToken } = newProject();
    const created = await createOk(projectId, ownerToken);
    const agent = t.tokenFor({ [projectId]: 'agent' }, 'agent-user');

    expectError(await t.api('GET', `/${projectId}/subscriptions`, { token: agent }), 403, new RegExp(projectId));
    expectError(await create(projectId, agent, { event: 'request.create', target: newTarget() }), 403);
    expectError(await t.api('DELETE', `/${projectId}/subscriptions/${created._id}`, { token: agent }), 403);
    expect((await t.api('GET', `/${projectId}/subscriptions/${created._id}`, { token: ownerToken })).status).toBe(200);
  });

  it('answers 403 to the owner of another project', async () => {
    const mine = newProject();
    const theirs = newProject();
    await createOk(theirs.projectId, theirs.token);

    expectError(await t.api('GET', `/${theirs.projectId}/subscriptions`, { token: mine.token }), 403);
    expectError(await create(theirs.projectId, mine.token, { event: 'request.create', target: newTarget() }), 403);
  });

  it('answers 403 to a valid token without any project', async () => {
    const { projectId } = newProject();
    expectError(await t.api('GET', `/${projectId}/subscriptions`), 403);
  });

  it('lets the platform token manage any project', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...existing } = await createOk(projectId, token);
    const platform = t.platformToken();

    const list = await t.api('GET', `/${projectId}/subscriptions`, { token: platform });
    expect(list.status).toBe(200);
    expect(subscriptionsOf(list)).toEqual([existing]);

    const created = await create(projectId, platform, { event: 'lead.create', target: newTarget() });
    expect(created.status).toBe(200);
    expect(created.body.createdBy).toBe('tiledesk-platform');
  });
});
