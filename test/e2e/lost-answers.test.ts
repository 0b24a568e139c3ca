import { TestStack, startTestStack } from '../support/local-stack-harness';
import { clientLosingFirstAnswer } from '../support/lost-answer';

/**
 * Markers written with a condition that they are new (ingest's retry marker, recover's marker):
 * when DynamoDB applied the put but its answer was lost, the SDK's retry finds the marker and
 * fails the condition. The writer must still know the marker is its own (manage-subscriptions
 * covers the subscription store's writes).
 */
let t: TestStack;
let runs = 0;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

const putsMarker = (prefix: string) => (operation: string, input: string) => operation === 'PutItem' && input.includes(`"${prefix}`);

describe('conditional markers whose answer was lost', () => {
  it("ingest: the request is still new to its writer (before, it was taken for Tiledesk's retry and never published)", async () => {
    const { IngestDedupeStore } = await import('../../lambdas/adapters/ingest-dedupe-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(putsMarker('INGEST#'));
    const hash = `lost-${++runs}`;
    expect(await new IngestDedupeStore(t.stack.tableName, 300, client).claim(hash)).toBe(true);
    expect(lostAnswers()).toBe(1);
    // Tiledesk's own retry of the same bytes is still refused.
    expect(await new IngestDedupeStore(t.stack.tableName, 300).claim(hash)).toBe(false);
  });

  it('recover: the attempt is claimed by the recover that wrote its marker, and only by it', async () => {
    const { RecoveryMarkerStore } = await import('../../lambdas/adapters/recovery-marker-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(putsMarker('RECOVERED#'));
    const logId = `${Date.now()}-lost${++runs}`;
    const at = new Date();
    expect(await new RecoveryMarkerStore(t.stack.tableName, 7, client).claim('lost-project', 'sub-1', logId, at)).toBe(true);
    expect(lostAnswers()).toBe(1);
    expect(await new RecoveryMarkerStore(t.stack.tableName, 7).claim('lost-project', 'sub-1', logId, at)).toBe(false);
  });
});
