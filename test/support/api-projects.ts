import { randomBytes } from 'node:crypto';
import { subscriptionOf } from './api-expectations';
import type { ApiReply, TestStack } from './local-stack-harness';

/** A project of a test's own: its id, its owner's (or admin's) token and user id. */
export interface TestProject {
  projectId: string;
  token: string;
  userId: string;
}

/**
 * Projects and subscriptions for API tests on one stack: each test takes a project of its own,
 * so tests never see each other's data. `stack` is read at each call (it is started in `beforeAll`).
 */
export function apiProjects(stack: () => TestStack, targetPrefix = 'hook') {
  let projectCount = 0;
  let targetCount = 0;

  function newProject(role: 'owner' | 'admin' = 'owner'): TestProject {
    const projectId = `p${++projectCount}-${randomBytes(3).toString('hex')}`;
    const userId = `user-${projectCount}`;
    return { projectId, token: stack().tokenFor({ [projectId]: role }, userId), userId };
  }

  /** A distinct loopback target (allowlisted locally); nothing listens there, nothing is published to it. */
  const newTarget = (): string => `http://127.0.0.1:9/${targetPrefix}-${++targetCount}`;

  function create(projectId: string, token: string, body: unknown): Promise<ApiReply> {
    return stack().api('POST', `/${projectId}/subscriptions`, { token, body });
  }

  /** Creates a subscription that must succeed and returns it as the API showed it. */
  async function createOk(projectId: string, token: string, event = 'request.create', target = newTarget()): Promise<ReturnType<typeof subscriptionOf>> {
    const reply = await create(projectId, token, { event, target });
    expect(reply.status).toBe(200);
    return subscriptionOf(reply);
  }

  return { newProject, newTarget, create, createOk };
}
