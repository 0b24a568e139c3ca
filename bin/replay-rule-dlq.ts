#!/usr/bin/env node
import { SQSClient } from '@aws-sdk/client-sqs';
import { replayRuleDlq } from '../lib/tools/rule-dlq-replay';
import { UsageError, parseCliArgs, queueClientConfig, runCli } from './cli';

const USAGE = `Usage: npm run replay-rule-dlq -- --dlq-url <EventRuleDlqUrl> [--target-queue-url <FanOutQueueUrl>]

Re-sends every event of the event rule's DLQ to the rule's target (the fan-out queue), unchanged
and under its original event id, so webhook-ids stay the same and receivers deduplicate; each
message leaves the DLQ only once it is sent. The target defaults to the queue each message's
TARGET_ARN attribute names. Against the local stack nothing needs exporting; the local rule
DLQ is http://127.0.0.1:4566/000000000000/tiledesk-webhooks-event-rule-dlq.`;

runCli(async () => {
  const { values } = parseCliArgs({
    'dlq-url': { type: 'string' },
    'target-queue-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values['dlq-url']) throw new UsageError('--dlq-url is required: the stack output EventRuleDlqUrl (locally http://127.0.0.1:4566/000000000000/tiledesk-webhooks-event-rule-dlq)');
  const dlqUrl = values['dlq-url'];
  const sqs = new SQSClient(queueClientConfig(dlqUrl));
  const result = await replayRuleDlq(sqs, dlqUrl, { targetQueueUrl: values['target-queue-url'] });
  console.log(`replayed ${result.replayed} event(s) to the fan-out queue; ${result.left.length} left in the DLQ`);
  for (const { messageId, reason } of result.left) console.log(`  left ${messageId}: ${reason}`);
  if (result.left.length > 0) process.exitCode = 1;
});
