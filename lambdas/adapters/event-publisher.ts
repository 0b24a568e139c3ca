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
): Promise<{ published: number; claimChecked: number }> {
  let claimChecked = 0;
  const entries = await toBusEntries(events, (payloadJson, projectId) => {
    if (!claimChecks) throw new PublishError('an event over 256 KB, or carrying U+FFFE or U+FFFF, needs a claim check bucket, and none is configured');
    claimChecked++;
    return claimChecks.put(payloadJson, projectId);
  });
  for (const batch of batchEntries(entries)) await putEvents(busName, batch);
  return { published: entries.length, claimChecked };
}

async function putEvents(busName: string, batch: BusEntry[]): Promise<void> {
  const result = await eventBridge.send(
    new PutEventsCommand({
      Entries: batch.map((entry) => ({ EventBusName: busName, Source: EVENT_SOURCE, DetailType: entry.detailType, Detail: entry.detail })),
    }),
  );
  if ((result.FailedEntryCount ?? 0) > 0) {
    const reasons = (result.Entries ?? []).filter((entry) => entry.ErrorCode).map((entry) => `${entry.ErrorCode}: ${entry.ErrorMessage}`);
    throw new PublishError(`EventBridge refused ${result.FailedEntryCount} of ${batch.length} events: ${reasons.join('; ')}`);
  }
}
