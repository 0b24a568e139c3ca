import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/** Tiledesk's GLOBAL_SECRET, shared by the stand-in Tiledesk and our authorizer. */
const TILEDESK_SECRET = 'tiledesk-global-secret-for-tests';
const DASHBOARD = 'https://console.tiledesk.example';

/** Roles in the stand-in Tiledesk: project → user id → project_user role. */
const roles: Record<string, Record<string, string>> = {
  'td-owned': { 'u-owner': 'owner', 'u-agent': 'agent' },
  'td-down': { 'u-owner': 'owner' },
};

let t: TestStack;
let tiledesk: Server;
const meRequests: { path: string; authorization: string | undefined }[] = [];

/** A stand-in of tiledesk-server's `GET /:projectid/project_users/me`, answering as routes/project_user.js does. */
function startTiledesk(): Promise<Server> {
  const server = createServer((req, res) => {
    meRequests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const match = /^\/([^/]+)\/project_users\/me$/.exec(req.url ?? '');
    const token = /^JWT (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!match?.[1] || !token) return send(404, { success: false, msg: 'Not found' });
    let user: { _id: string };
    try {
      user = jwt.verify(token, TILEDESK_SECRET, { issuer: 'https://tiledesk.com', audience: 'https://tiledesk.com' }) as { _id: string };
    } catch {
      res.writeHead(401);
      return res.end('Unauthorized');
    }
    const role = roles[match[1]]?.[user._id];
    if (!role) return send(403, { success: false, msg: 'you dont belong to the project.' });
    return send(200, [{ _id: `pu-${user._id}`, id_project: match[1], id_user: { _id: user._id }, role, status: 'active', user_available: true, isBusy: false }]);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A user token exactly as tiledesk-server's routes/auth.js signs it (no exp). */
const tiledeskToken = (userId: string, secret = TILEDESK_SECRET): string =>
  jwt.sign({ _id: userId, email: `${userId}@example.com`, firstname: 'Test' }, secret, {
    issuer: 'https://tiledesk.com',
    subject: 'user',
    audience: 'https://tiledesk.com',
    jwtid: `jti-${userId}`,
  });

/** Calls the API as the dashboard does: `Authorization: JWT <token>` from its origin. */
async function asDashboard(method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${t.stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `JWT ${token}`, origin: DASHBOARD, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  tiledesk = await startTiledesk();
  const { port } = tiledesk.address() as AddressInfo;
  t = await startTestStack({
    corsOrigins: [DASHBOARD],
    environment: { TILEDESK_API_URL: `http://127.0.0.1:${port}`, TILEDESK_JWT_SECRET: TILEDESK_SECRET },
  });
});
afterAll(async () => {
  await t.stop();
  tiledesk.closeAllConnections();
  await new Promise((resolve) => tiledesk.close(resolve));
});

describe('Tiledesk user tokens', () => {
  test('an owner in Tiledesk manages the project: create, list, get, update, delete, with one role lookup a minute', async () => {
    const token = tiledeskToken('u-owner');
    const before = meRequests.length;
    const created = await asDashboard('POST', '/td-owned/subscriptions', token, { event: 'request.create', target: 'http://127.0.0.1:9/hook' });
    expect(created.status).toBeLessThan(300);
    expect(created.body).toMatchObject({ event: 'request.create', createdBy: 'u-owner' });
    const id = String(created.body._id);

    expect((await asDashboard('GET', '/td-owned/subscriptions', token)).status).toBe(200);
    expect((await asDashboard('GET', `/td-owned/subscriptions/${id}`, token)).body).toMatchObject({ _id: id });
    expect((await asDashboard('PUT', `/td-owned/subscriptions/${id}`, token, { target: 'http://127.0.0.1:9/other' })).body).toMatchObject({
      target: 'http://127.0.0.1:9/other',
    });
    expect((await asDashboard('DELETE', `/td-owned/subscriptions/${id}`, token)).status).toBe(200);

    const asked = meRequests.slice(before);
    expect(asked).toEqual([{ path: '/td-owned/project_users/me', authorization: `JWT ${token}` }]);
  });

  test('an agent in Tiledesk is refused with 403, and so is a user of another project', async () => {
    const agent = await asDashboard('GET', '/td-owned/subscriptions', tiledeskToken('u-agent'));
    expect(agent).toMatchObject({ status: 403, body: { success: false } });
    const stranger = await asDashboard('GET', '/td-owned/subscriptions', tiledeskToken('u-stranger'));
    expect(stranger.status).toBe(403);
  });

  test('a token not signed with Tiledesk\'s secret is 401 and Tiledesk is not even asked', async () => {
    const before = meRequests.length;
    const forged = await asDashboard('GET', '/td-owned/subscriptions', tiledeskToken('u-owner', 'guessed-secret'));
    expect(forged).toMatchObject({ status: 401, body: { success: false, msg: 'Invalid token signature' } });
    expect(meRequests.length).toBe(before);
  });

  test('our own tokens keep working beside Tiledesk sign-in', async () => {
    const reply = await t.api('GET', '/td-owned/subscriptions', { token: t.tokenFor({ 'td-owned': 'admin' }) });
    expect(reply.status).toBe(200);
  });
});

describe('CORS for the dashboard', () => {
  test('a preflight from an allowed origin is answered with the methods and headers the dashboard sends', async () => {
    const response = await fetch(`${t.stack.apiUrl}/td-owned/subscriptions`, {
      method: 'OPTIONS',
      headers: { origin: DASHBOARD, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  test('a preflight from another origin gets no CORS headers, so the browser refuses the call', async () => {
    const response = await fetch(`${t.stack.apiUrl}/td-owned/subscriptions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('a call from the allowed origin carries the allow-origin header and exposes x-hook-secret', async () => {
    const reply = await asDashboard('GET', '/td-owned/subscriptions', tiledeskToken('u-owner'));
    expect(reply.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(reply.headers.get('access-control-expose-headers')).toContain('x-hook-secret');
    // A 429's wait, readable by the dashboard's scripts too.
    expect(reply.headers.get('access-control-expose-headers')).toContain('retry-after');
  });

  test("with CORS configured, a function's own CORS headers are ignored, as API Gateway ignores them", async () => {
    // GET /openapi.json's function answers `access-control-allow-origin: *`.
    const elsewhere = await fetch(`${t.stack.apiUrl}/openapi.json`, { headers: { origin: 'https://evil.example' } });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const fromDashboard = await fetch(`${t.stack.apiUrl}/openapi.json`, { headers: { origin: DASHBOARD } });
    expect(fromDashboard.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
  });
});

describe('Tiledesk down', () => {
  test('a role that cannot be asked is 503, never a grant', async () => {
    tiledesk.closeAllConnections();
    await new Promise((resolve) => tiledesk.close(resolve));
    const reply = await asDashboard('GET', '/td-down/subscriptions', tiledeskToken('u-owner'));
    expect(reply).toMatchObject({ status: 503, body: { success: false } });
    tiledesk = await startTiledesk();
  });
});
