#!/usr/bin/env node
import { SQSClient } from '@aws-sdk/client-sqs';
import { RedriveDestinationError, redriveDlq } from '../lib/tools/dlq-redrive';
import { UsageError, parseCliArgs, regionOfQueueUrl, runCli } from './cli';

const USAGE = `Usage: npm run redrive-dlq -- --dlq-url <DLQ URL> [--to-url <queue URL>]

Moves every message of the DLQ to a queue (an SQS message move task) and waits.
  Delivery DLQ:  --dlq-url <DeliveryDlqUrl> --to-url <DeliveryQueueUrl>
  Fan-out DLQ:   --dlq-url <FanOutDlqUrl>   (its one source queue, FanOutQueueUrl, by default)
--to-url is needed when the DLQ serves several queues (the delivery DLQ serves both lanes).
Against the local stack, export AWS_ENDPOINT_URL first; there the delivery DLQ is
http://127.0.0.1:4566/000000000000/tiledesk-webhooks-delivery-dlq and the delivery queue
http://127.0.0.1:4566/000000000000/tiledesk-webhooks-delivery.
The event rule's DLQ (EventRuleDlqUrl) is EventBridge's, which message move tasks do not serve:
replay it with npm run replay-rule-dlq.`;

runCli(async () => {
  const { values } = parseCliArgs({
    'dlq-url': { type: 'string' },
    'to-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dlqUrl = values['dlq-url'];
  if (!dlqUrl) throw new UsageError('--dlq-url is required: the stack output DeliveryDlqUrl or FanOutDlqUrl');
  try {
    const result = await redriveDlq(new SQSClient({ region: regionOfQueueUrl(dlqUrl) }), dlqUrl, { destinationUrl: values['to-url'] });
    console.log(`${result.status}: moved ${result.moved} message(s) to ${result.destinationUrl}`);
  } catch (error) {
    if (error instanceof RedriveDestinationError) throw new UsageError(`${error.message} with --to-url`);
    throw error;
  }
});
