import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommandInput, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { traced } from './observability';

/**
 * SDK clients, created once per container and shared by every adapter. Endpoints come from
 * the standard `AWS_ENDPOINT_URL` variable, which is how the local stack points them at itself.
 */
export const dynamoDocumentClient = DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), {
  marshallOptions: { removeUndefinedValues: true },
});

export const sqsClient = traced(new SQSClient({}));

/** Every item a query matches, following LastEvaluatedKey through all pages. */
export async function queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}
