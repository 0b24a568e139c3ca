import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../../lambdas/handlers/http-response';
import { expectFieldError, subscriptionOf } from '../support/api-expectations';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

/** JSON text of arrays nested `levels` deep: `[[…]]`, two bytes a level. */
const nestedArrays = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
/** JSON text of objects nested `levels` deep: `{"a":{"a":…1}}`, six bytes a level. */
const nestedObjects = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

const depthMessage = new RegExp(`nested deeper than ${MAX_BODY_DEPTH} levels`);
const operators = '[{"id_user":"u1"}]';

describe.each([10_000, 100_000])('a body nested %i levels', (levels) => {
  it('is refused by operator-select with 400 naming the field, not a 500', async () => {
    const reply = await t.api('POST', '/proj-deep/operator-select', {
      token: t.platformToken(),
      rawBody: `{"operators":${operators},"context":${nestedArrays(levels)}}`,
    });
    expectFieldError(reply, 'context', depthMessage);
  });

  it('is refused by operator-select when the body itself is the deep value', async () => {
    const reply = await t.api('POST', '/proj-deep/operator-select', { token: t.platformToken(), rawBody: nestedArrays(levels) });
    expectFieldError(reply, 'body', depthMessage);
  });

  it('of objects is a 4xx for operator-select: 400 when it fits the size cap, 413 when not', async () => {
    const rawBody = `{"operators":${operators},"project":${nestedObjects(levels)}}`;
    const reply = await t.api('POST', '/proj-deep/operator-select', { token: t.platformToken(), rawBody });
    if (rawBody.length > MAX_BODY_BYTES) expect(reply.status).toBe(413);
    else expectFieldError(reply, 'project', depthMessage);
  });

  it('is refused by the subscriptions API on create, update and recover', async () => {
    const token = t.tokenFor({ 'proj-deep': 'owner' });
    const create = await t.api('POST', '/proj-deep/subscriptions', {
      token,
      rawBody: `{"event":"request.create","target":${nestedArrays(levels)}}`,
    });
    expectFieldError(create, 'target', depthMessage);

    const created = await t.api('POST', '/proj-deep/subscriptions', {
      token,
      body: { event: 'request.create', target: `http://127.0.0.1:9/deep-${levels}` },
    });
    const { _id: id } = subscriptionOf(created);
    const update = await t.api('PUT', `/proj-deep/subscriptions/${id}`, { token, rawBody: `{"event":${nestedArrays(levels)}}` });
    expectFieldError(update, 'event', depthMessage);
    const recover = await t.api('POST', `/proj-deep/subscriptions/${id}/recover`, { token, rawBody: nestedArrays(levels) });
    expectFieldError(recover, 'body', depthMessage);
  });
});

describe(`the depth limit (${MAX_BODY_DEPTH} levels)`, () => {
  it('accepts a routing payload exactly at the limit and refuses one level more', async () => {
    // The root object is one level, so the context may nest one level less than the limit.
    const atLimit = await t.api('POST', '/proj-deep/operator-select', {
      token: t.platformToken(),
      rawBody: `{"operators":${operators},"context":${nestedArrays(MAX_BODY_DEPTH - 1)}}`,
    });
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.context).toEqual(JSON.parse(nestedArrays(MAX_BODY_DEPTH - 1)));
    const beyond = await t.api('POST', '/proj-deep/operator-select', {
      token: t.platformToken(),
      rawBody: `{"operators":${operators},"context":${nestedArrays(MAX_BODY_DEPTH)}}`,
    });
    expectFieldError(beyond, 'context', depthMessage);
  });
});
