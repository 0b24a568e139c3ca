import { EventBridgeClient, PutEventsCommand, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { PublishError, publishTiledeskEvents } from '../../../lambdas/adapters/event-publisher';

/*
 * What the local bus never does, so a scripted client stands in for EventBridge: fail some
 * entries of a PutEvents and take the others (AWS: FailedEntryCount, an ErrorCode per entry).
 */
function scriptedBus(answers: ((entries: number) => Partial<PutEventsCommandOutput>)[]) {
  const sent: string[][] = [];
  const client = {
    send: async (command: PutEventsCommand) => {
      const entries = command.input.Entries ?? [];
      sent.push(entries.map((entry) => JSON.parse(entry.Detail!).n as string));
      return (answers[sent.length - 1] ?? (() => ({ FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: 'e' })) })))(entries.length);
    },
  } as unknown as Pick<EventBridgeClient, 'send'>;
  return { client, sent };
}

const events = ['a', 'b', 'c'].map((n) => ({ event: 'lead.create', payload: { id_project: 'p', n } }));
const failing = (index: number, ErrorCode: string) => (entries: number) => ({
  FailedEntryCount: 1,
  Entries: Array.from({ length: entries }, (_, n) => (n === index ? { ErrorCode, ErrorMessage: 'no' } : { EventId: `id-${n}` })),
});

describe('publishTiledeskEvents', () => {
  it('sends again only the entries that failed for a passing reason, so the others are not published twice', async () => {
    const { client, sent } = scriptedBus([failing(1, 'ThrottlingException')]);
    await expect(publishTiledeskEvents('bus', events, undefined, client)).resolves.toEqual({ published: 3, claimChecked: 0 });
    expect(sent).toEqual([['a', 'b', 'c'], ['b']]);
  });

  it('gives up after three more sends, and on an error that would not pass', async () => {
    const always = scriptedBus(Array.from({ length: 10 }, () => failing(0, 'InternalFailure')));
    await expect(publishTiledeskEvents('bus', events.slice(0, 1), undefined, always.client)).rejects.toBeInstanceOf(PublishError);
    expect(always.sent).toHaveLength(4);

    const refused = scriptedBus([failing(2, 'MalformedDetail')]);
    await expect(publishTiledeskEvents('bus', events, undefined, refused.client)).rejects.toThrow('EventBridge refused 1 of 3 events: MalformedDetail: no');
    expect(refused.sent).toHaveLength(1);
  });
});
