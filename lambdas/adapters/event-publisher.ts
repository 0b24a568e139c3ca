import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE } from '../core/settings';
import { BusEntry, TiledeskEvent, batchEntries, toBusEntries } from '../core/claim-check';
import { ClaimCheckStore } from './claim-check-store';
import { SDK_CLIENT_CONFIG } from './sdk-config';
import { sdkClient } from './observability';

const eventBridge = sdkClient(new EventBridgeClient({ ...SDK_CLIENT_CONFIG }));

/** Some entries were not published; the caller answers an error so the producer sends them again. */
export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

/**
 * Publishes Tiledesk events to the bus as the platform does (Source `tiledesk`, DetailType the
 * event name, Detail the payload), payloads over EventBridge's 256 KB as claim checks in
 * `claimChecks` (refused when none is configured). Returns how many went aside.
 */
export async function publishTiledeskEvents(
  busName: string,
  events: readonly TiledeskEvent[],
  claimChecks: ClaimCheckStore | undefined,
  client: Pick<EventBridgeClient, 'send'> = eventBridge,
): Promise<{ published: number; claimChecked: number }> {
  let claimChecked = 0;
  const entries = await toBusEntries(events, (payloadJson, projectId) => {
    if (!claimChecks) throw new PublishError('an event over 256 KB, or carrying U+FFFE or U+FFFF, needs a claim check bucket, and none is configured');
    claimChecked++;
    return claimChecks.put(payloadJson, projectId);
  });
  for (const batch of batchEntries(entries)) await putEvents(client, busName, batch);
  return { published: entries.length, claimChecked };
}

/** Per-entry errors EventBridge documents as passing: the entry is sent again, alone with the others that failed. */
const TRANSIENT_ENTRY_ERRORS = new Set(['InternalFailure', 'ThrottlingException']);

/** Sends of a batch's failed entries after the first, with a growing pause (100, 200, 400 ms). */
const ENTRY_RETRIES = 3;

/**
 * Puts a batch, then sends again only the entries that failed for a passing reason. Before, any
 * failed entry failed the whole call: the caller's retry then published the others a second
 * time, under new event ids, so their receivers could not tell them from new events.
 */
async function putEvents(client: Pick<EventBridgeClient, 'send'>, busName: string, batch: BusEntry[]): Promise<void> {
  let pending = batch;
  for (let retry = 0; ; retry++) {
    if (retry > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** retry));
    const result = await client.send(
      new PutEventsCommand({
        Entries: pending.map((entry) => ({ EventBusName: busName, Source: EVENT_SOURCE, DetailType: entry.detailType, Detail: entry.detail })),
      }),
    );
    if ((result.FailedEntryCount ?? 0) === 0) return;
    const failed = (result.Entries ?? []).flatMap((entry, index) => (entry.ErrorCode && pending[index] ? [{ entry: pending[index], error: entry }] : []));
    const permanent = failed.filter(({ error }) => !TRANSIENT_ENTRY_ERRORS.has(error.ErrorCode!));
    if (permanent.length > 0 || retry === ENTRY_RETRIES || failed.length === 0) {
      const reasons = [...new Set(failed.map(({ error }) => `${error.ErrorCode}: ${error.ErrorMessage}`))];
      const retried = retry > 0 ? ` (${pending.length} still failing after ${retry} more send${retry > 1 ? 's' : ''})` : '';
      throw new PublishError(`EventBridge refused ${result.FailedEntryCount} of ${batch.length} events${retried}: ${reasons.join('; ')}`);
    }
    pending = failed.map(({ entry }) => entry);
  }
}
