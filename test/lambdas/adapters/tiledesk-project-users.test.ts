import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import { TiledeskUnavailableError, createProjectRoleLookup } from '../../../lambdas/adapters/tiledesk-project-users';

/** What the stand-in Tiledesk answers for a project: a status and body, or no answer at all. */
let answers: Record<string, { status: number; body?: unknown } | 'hang'> = {};
const requests: string[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.url} ${req.headers.authorization}`);
    const project = (req.url ?? '').split('/')[1] ?? '';
    const answer = answers[project] ?? { status: 404 };
    if (answer === 'hang') return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  answers = {};
  requests.length = 0;
});

const member = (role: string, status = 'active') => ({ status: 200, body: [{ _id: 'pu1', id_project: 'p', role, status }] });

describe('createProjectRoleLookup', () => {
  test('asks /{projectId}/project_users/me with the JWT and reads the role of Tiledesk\'s one-element array', async () => {
    answers = { p1: member('owner') };
    await expect(createProjectRoleLookup(url).roleOf('tok', 'p1')).resolves.toBe('owner');
    expect(requests).toEqual(['/p1/project_users/me JWT tok']);
  });

  test('keeps an answer for its TTL per token and project, then asks again', async () => {
    answers = { p1: member('admin'), p2: member('agent') };
    let now = 0;
    const lookup = createProjectRoleLookup(url, { ttlMs: 60_000, now: () => now });
    await lookup.roleOf('tok', 'p1');
    now = 59_000;
    expect([await lookup.roleOf('tok', 'p1'), await lookup.roleOf('tok', 'p2'), await lookup.roleOf('other', 'p1')]).toEqual([
      'admin',
      'agent',
      'admin',
    ]);
    expect(requests).toHaveLength(3);
    now = 61_000;
    answers = { p1: member('agent') };
    expect(await lookup.roleOf('tok', 'p1')).toBe('agent');
    expect(requests).toHaveLength(4);
  });

  test.each([
    ['not a member (403)', { status: 403, body: { success: false, msg: 'you dont belong to the project.' } }],
    ['no such project (404)', { status: 404 }],
    ['a disabled teammate', member('admin', 'disabled')],
  ])('gives no role for %s', async (_name, answer) => {
    answers = { p1: answer };
    await expect(createProjectRoleLookup(url).roleOf('tok', 'p1')).resolves.toBeUndefined();
  });

  test('refuses the token Tiledesk refuses (401)', async () => {
    answers = { p1: { status: 401 } };
    await expect(createProjectRoleLookup(url).roleOf('tok', 'p1')).rejects.toThrow(UnauthenticatedError);
  });

  test.each([
    ['a 500', { status: 500 }],
    ['an answer that is not a project user', { status: 200, body: 'maintenance' }],
  ])('is unavailable on %s, and does not keep the failure', async (_name, answer) => {
    answers = { p1: answer };
    const lookup = createProjectRoleLookup(url);
    await expect(lookup.roleOf('tok', 'p1')).rejects.toThrow(TiledeskUnavailableError);
    answers = { p1: member('owner') };
    await expect(lookup.roleOf('tok', 'p1')).resolves.toBe('owner');
  });

  test('is unavailable when Tiledesk does not answer in time, or cannot be reached', async () => {
    answers = { p1: 'hang' };
    await expect(createProjectRoleLookup(url, { timeoutMs: 200 }).roleOf('tok', 'p1')).rejects.toThrow(/did not answer within 200 ms/);
    await expect(createProjectRoleLookup('http://127.0.0.1:9').roleOf('tok', 'p1')).rejects.toThrow(TiledeskUnavailableError);
  });
});
