import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { signToken } from '../../../lambdas/core/token';
import type { LocalStack, LocalStackOptions } from '../../../local/local-stack';
import { eventually } from '../../support/pipeline';
import { Receiver, startReceiver } from '../../support/receiver';

/**
 * The contract between the constructs and the local stack: permissions come from the template
 * `cdk deploy` would create. A copy of the app whose fan-out construct lost its send grant runs
 * end to end, and the fan-out's send is refused with AccessDenied naming the action, as on AWS.
 */
const ROOT = path.resolve(__dirname, '../../..');
const PROJECT = 'p-grant-contract';
let copy: string;
let stack: LocalStack | undefined;
let receiver: Receiver | undefined;
const written: string[] = [];
const streams = [process.stdout, process.stderr] as const;
const writes = streams.map((stream) => stream.write);

beforeAll(() => {
  copy = mkdtempSync(path.join(tmpdir(), 'grant-contract-'));
  for (const entry of ['lambdas', 'lib', 'local', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const construct = path.join(copy, 'lib', 'event-routing.ts');
  const source = readFileSync(construct, 'utf8');
  const withoutGrant = source.replace('.grantSendTo(props.deliveryQueue);', ';');
  // The construct must still read as this test expects, or the test proves nothing.
  expect(withoutGrant).not.toBe(source);
  writeFileSync(construct, withoutGrant);
});

afterAll(async () => {
  streams.forEach((stream, index) => (stream.write = writes[index]!));
  await stack?.stop();
  await receiver?.close();
  rmSync(copy, { recursive: true, force: true });
});

it('refuses the fan-out its send to the delivery queue once the construct no longer grants it', async () => {
  // The function's log lines (Powertools writes warnings to stderr), as CloudWatch would keep them.
  streams.forEach((stream, index) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk));
      return writes[index]!.call(stream, chunk, ...rest);
    }) as typeof stream.write;
  });
  const { startLocalStack } = (await import(path.join(copy, 'local', 'local-stack'))) as {
    startLocalStack: (options: LocalStackOptions) => Promise<LocalStack>;
  };
  const jwtSecret = 'grant-contract-secret-0123456789abcdef';
  // CDK finds the project root (the lock file) from the working directory.
  process.chdir(copy);
  try {
    stack = await startLocalStack({ port: 0, awsPort: 0, jwtSecret });
  } finally {
    process.chdir(ROOT);
  }
  receiver = await startReceiver(() => ({ status: 200 }));

  const subscribed = await fetch(`${stack.apiUrl}/${PROJECT}/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signToken({ sub: 'owner', projects: { [PROJECT]: 'owner' } }, jwtSecret)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'request.create', target: receiver.url }),
  });
  expect(subscribed.status).toBe(200);
  await new EventBridgeClient({ endpoint: stack.awsEndpoint }).send(
    new PutEventsCommand({
      Entries: [{ EventBusName: stack.busName, Source: 'tiledesk', DetailType: 'request.create', Detail: JSON.stringify({ id_project: PROJECT }) }],
    }),
  );

  const refused = await eventually(() => {
    const line = written.find((text) => text.includes('SQS did not take some delivery messages'));
    if (!line) throw new Error('the fan-out has not tried to send yet');
    return line;
  });
  expect(refused).toMatch(/AccessDenied: User: arn:aws:sts::000000000000:assumed-role\/EventsFanOutFunctionServiceRole[0-9A-F]{8}\/EventsFanOutFunction[0-9A-F]{8} is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:tiledesk-webhooks-delivery-queue because no identity-based policy allows the sqs:sendmessage action/);
  expect(receiver.received).toHaveLength(0);
}, 180_000);
