import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * A DynamoDB document client that loses the answer of the first request `matches` picks, after
 * DynamoDB applied it (as a timeout or a 500 after the write would). The loss is thrown below the
 * SDK's retry middleware, so the SDK's own retry sends the same request again, as on AWS.
 * `matches` sees the operation (`PutItem`, …) and the command's input as JSON; `meanwhile` can
 * put a rival's write between the applied write and the SDK's retry.
 */
export function clientLosingFirstAnswer(
  matches: (operation: string, input: string) => boolean,
  /** Runs after the write was applied and before its answer is lost: a rival's write in that window. */
  meanwhile: () => Promise<unknown> = async () => undefined,
): {
  client: DynamoDBDocumentClient;
  lostAnswers: () => number;
} {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  let lost = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const { headers } = args.request as { headers: Record<string, string> };
      const operation = String(headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const result = await next(args);
      if (lost === 0 && matches(operation, JSON.stringify(args.input))) {
        lost++;
        await meanwhile();
        throw Object.assign(new Error('the answer was lost'), { name: 'TimeoutError', $metadata: {} });
      }
      return result;
    },
    { step: 'deserialize', name: 'loseFirstAnswerForTest' },
  );
  return { client, lostAnswers: () => lost };
}
