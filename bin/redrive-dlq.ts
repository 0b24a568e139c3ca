#!/usr/bin/env node
import { SQSClient } from '@aws-sdk/client-sqs';
import { RedriveDestinationError, redriveDlq } from '../lib/tools/dlq-redrive';
import { UsageError, parseCliArgs, queueClientConfig, runCli } from './cli';

const USAGE = `Usage: npm run redrive-dlq -- --dlq-url <DLQ URL> [--to-url <queue URL>]

Moves every message of the DLQ to a queue (an SQS message move task that names its
destination) and waits. By default the destination is the queue whose redrive policy names the
DLQ; the delivery DLQ serves both lanes, and its messages go to the first by name, the fast lane
(DeliveryQueueUrl), which forwards slow subscribers' messages to the slow lane itself.
--to-url <queue URL> chooses another destination.
Against the local stack nothing needs exporting (a loopback URL is its endpoint); there the delivery DLQ is
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
    const result = await redriveDlq(new SQSClient(queueClientConfig(dlqUrl)), dlqUrl, { destinationUrl: values['to-url'] });
    const where = result.sourceUrls.includes(result.destinationUrl) ? "to the DLQ's source queue" : 'to';
    console.log(`${result.status}: moved ${result.moved} message(s) ${where} ${result.destinationUrl}`);
    if (!values['to-url'] && result.sourceUrls.length > 1) {
      console.log(`(the DLQ serves ${result.sourceUrls.length} queues: ${result.sourceUrls.join(', ')}; --to-url chooses another)`);
    }
  } catch (error) {
    if (error instanceof RedriveDestinationError) throw new UsageError(`${error.message} with --to-url`);
    throw error;
  }
});
