#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createClaimCheckStore } from '../lambdas/adapters/claim-check-store';
import { publishTiledeskEvents } from '../lambdas/adapters/event-publisher';
import { TiledeskEvent } from '../lambdas/core/claim-check';

const USAGE = `Usage: npx tsx bin/publish-events.ts --bus <EventBusName> [--bucket <ClaimCheckBucketName>] [--file events.json]

Publishes Tiledesk events ({"event", "payload"} or a list of them; stdin when no --file) to the
bus as the platform does. A payload over EventBridge's 256 KB is stored in the claim-check bucket
(stack output ClaimCheckBucketName; needs s3:PutObject on its events/* keys) and delivered whole.
Against the local stack, export AWS_ENDPOINT_URL first (the bus is "tiledesk", the bucket
"tiledesk-webhooks-claim-check-bucket").`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { bus: { type: 'string' }, bucket: { type: 'string' }, file: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (values.help || !values.bus) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const parsed = JSON.parse(readFileSync(values.file ?? 0, 'utf8')) as TiledeskEvent | TiledeskEvent[];
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const result = await publishTiledeskEvents(values.bus, events, values.bucket ? createClaimCheckStore(values.bucket) : undefined);
  console.log(`published ${result.published} event(s), ${result.claimChecked} stored aside`);
}

main().catch((error: unknown) => {
  console.error(String(error));
  process.exit(1);
});
