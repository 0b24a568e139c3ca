#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { redriveDlq } from '../lib/tools/dlq-redrive';

const USAGE = `Usage: npm run redrive-dlq -- --dlq-url <DeliveryDlqUrl or FanOutDlqUrl>

Moves every message of the DLQ back to its source queue (an SQS message move task) and waits.
Against the local stack, export AWS_ENDPOINT_URL first; the local delivery DLQ is
http://127.0.0.1:4566/000000000000/tiledesk-webhooks-delivery-dlq.`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'dlq-url': { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help || !values['dlq-url']) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const result = await redriveDlq(new SQSClient({}), values['dlq-url']);
  console.log(`${result.status}: moved ${result.moved} message(s) back to the source queue`);
}

main().catch((error: unknown) => {
  console.error(String(error));
  process.exit(1);
});
