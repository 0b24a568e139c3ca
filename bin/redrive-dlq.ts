#!/usr/bin/env node
import { SQSClient } from '@aws-sdk/client-sqs';
import { redriveDlq } from '../lib/tools/dlq-redrive';
import { UsageError, parseCliArgs, regionOfQueueUrl, runCli } from './cli';

const USAGE = `Usage: npm run redrive-dlq -- --dlq-url <DeliveryDlqUrl or FanOutDlqUrl>

Moves every message of the DLQ back to its source queue (an SQS message move task) and waits.
Against the local stack, export AWS_ENDPOINT_URL first; the local delivery DLQ is
http://127.0.0.1:4566/000000000000/tiledesk-webhooks-delivery-dlq.
The event rule's DLQ (EventRuleDlqUrl) is EventBridge's, which message move tasks do not serve:
replay it with npm run replay-rule-dlq.`;

runCli(async () => {
  const { values } = parseCliArgs({ 'dlq-url': { type: 'string' }, help: { type: 'boolean', default: false } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dlqUrl = values['dlq-url'];
  if (!dlqUrl) throw new UsageError('--dlq-url is required: the stack output DeliveryDlqUrl or FanOutDlqUrl');
  const result = await redriveDlq(new SQSClient({ region: regionOfQueueUrl(dlqUrl) }), dlqUrl);
  console.log(`${result.status}: moved ${result.moved} message(s) back to the source queue`);
});
