/** A service the local AWS endpoint serves. */
export type LocalService = 'dynamodb' | 'sqs' | 'events' | 's3';

/** One request as it reached the local AWS endpoint. */
export interface AwsRequest {
  service: LocalService;
  /** The operation of a JSON-protocol request (`PutItem`, `SendMessage`, …); unused for S3. */
  operation: string;
  /** The JSON body of a JSON-protocol request (already parsed), `undefined` for S3. */
  body?: Record<string, unknown>;
  /** HTTP method and path (S3 addresses bucket and key in the path). */
  method: string;
  path: string;
}

/** An IAM action on a resource ARN that a request needs allowed. */
export interface RequiredPermission {
  action: string;
  resource: string;
  /** Condition keys of the request (DynamoDB's `dynamodb:Attributes` and `dynamodb:Select` for reads). */
  context?: Record<string, string | string[]>;
}

/** The region and account the local resources live in. */
export interface LocalAccount {
  region: string;
  account: string;
}

/**
 * The IAM actions and resource ARNs AWS authorizes a request against, as each service's page of
 * the Service Authorization Reference lists them: DynamoDB on the table or
 * `table/<t>/index/<i>` (each table of a batch), SQS on the queue (`*Batch` as the single
 * action), EventBridge `PutEvents` on each entry's bus, S3 on `arn:aws:s3:::bucket/key`.
 * A resource that cannot be told from the request is `*`.
 */
export function requiredPermissions(request: AwsRequest, where: LocalAccount): RequiredPermission[] {
  switch (request.service) {
    case 'dynamodb':
      return dynamoDbPermissions(request.operation, request.body ?? {}, where);
    case 'sqs':
      return sqsPermissions(request.operation, request.body ?? {}, where);
    case 'events':
      return eventsPermissions(request.operation, request.body ?? {}, where);
    case 's3':
      return [s3Permission(request.method, request.path)];
  }
}

function dynamoDbPermissions(operation: string, body: Record<string, unknown>, { region, account }: LocalAccount): RequiredPermission[] {
  const tableArn = (table: unknown): string => {
    const name = String(table);
    return name.startsWith('arn:') ? name : `arn:aws:dynamodb:${region}:${account}:table/${name}`;
  };
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const tables = Object.keys((body.RequestItems ?? {}) as Record<string, unknown>);
    return tables.map((table) => ({ action: `dynamodb:${operation}`, resource: tableArn(table) }));
  }
  if (operation === 'TransactGetItems' || operation === 'TransactWriteItems') {
    // Each item is authorized as its own action (Get, Put, Update, Delete, ConditionCheckItem).
    const items = (body.TransactItems ?? []) as Record<string, { TableName?: string }>[];
    return items.flatMap((item) =>
      Object.entries(item).map(([kind, inner]) => ({
        action: `dynamodb:${kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`}`,
        resource: tableArn(inner.TableName),
      })),
    );
  }
  if (typeof body.TableName !== 'string') return [{ action: `dynamodb:${operation}`, resource: '*' }];
  const table = tableArn(body.TableName);
  const index = typeof body.IndexName === 'string' ? `/index/${body.IndexName}` : '';
  const context = READS.has(operation) ? readContext(body) : undefined;
  return [{ action: `dynamodb:${operation}`, resource: `${table}${index}`, ...(context ? { context } : {}) }];
}

const READS = new Set(['GetItem', 'Query', 'Scan']);

/**
 * The fine-grained access condition keys of a read
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
 * `dynamodb:Attributes`, the top-level attributes the request names (its projection and its
 * key condition), and `dynamodb:Select`, the request's or, without one, what DynamoDB reads by
 * default (SPECIFIC_ATTRIBUTES with a projection, ALL_ATTRIBUTES without). Giving the default
 * is the stricter reading: a policy that requires SPECIFIC_ATTRIBUTES then refuses a read of
 * whole items, which is what the IAM guide's example says the condition is for
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_dynamodb_attributes.html).
 */
function readContext(body: Record<string, unknown>): Record<string, string | string[]> {
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const attributesOf = (expression: unknown): string[] =>
    typeof expression !== 'string'
      ? []
      : [...expression.matchAll(/[:#]?[A-Za-z_][A-Za-z0-9_]*/g)]
          .map(([token]) => (token.startsWith(':') ? undefined : token.startsWith('#') ? names[token] : token))
          .filter((name): name is string => typeof name === 'string' && !KEY_CONDITION_WORDS.has(name));
  const projection = typeof body.ProjectionExpression === 'string' ? attributesOf(body.ProjectionExpression.replace(/\.[^,]*/g, '')) : [];
  const attributes = [...new Set([...projection, ...(projection.length > 0 ? attributesOf(body.KeyConditionExpression) : [])])];
  const select = typeof body.Select === 'string' ? body.Select : projection.length > 0 ? 'SPECIFIC_ATTRIBUTES' : 'ALL_ATTRIBUTES';
  return { 'dynamodb:Select': select, ...(attributes.length > 0 ? { 'dynamodb:Attributes': attributes } : {}) };
}

/** Words of a key condition that are not attribute names. */
const KEY_CONDITION_WORDS = new Set(['AND', 'BETWEEN', 'begins_with']);

/** The batch operations of SQS are authorized as their single action. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function sqsPermissions(operation: string, body: Record<string, unknown>, { region, account }: LocalAccount): RequiredPermission[] {
  const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
  const queueArn = (name: string, owner = account): string => `arn:aws:sqs:${region}:${owner}:${name}`;
  if (typeof body.QueueUrl === 'string') {
    // …/<account>/<name>, whatever the host.
    const [owner, name] = new URL(body.QueueUrl).pathname.split('/').filter(Boolean).slice(-2);
    if (owner && name) return [{ action, resource: queueArn(name, owner) }];
  }
  if (typeof body.QueueName === 'string') {
    const owner = typeof body.QueueOwnerAWSAccountId === 'string' ? body.QueueOwnerAWSAccountId : account;
    return [{ action, resource: queueArn(body.QueueName, owner) }];
  }
  if (typeof body.SourceArn === 'string') return [{ action, resource: body.SourceArn }];
  return [{ action, resource: '*' }];
}

function eventsPermissions(operation: string, body: Record<string, unknown>, { region, account }: LocalAccount): RequiredPermission[] {
  const busArn = (bus: unknown): string => {
    const name = typeof bus === 'string' && bus ? bus : 'default';
    return name.startsWith('arn:') ? name : `arn:aws:events:${region}:${account}:event-bus/${name}`;
  };
  if (operation === 'PutEvents') {
    const entries = (body.Entries ?? []) as { EventBusName?: unknown }[];
    const buses = [...new Set(entries.map((entry) => busArn(entry.EventBusName)))];
    return buses.map((resource) => ({ action: 'events:PutEvents', resource }));
  }
  const bus = body.EventBusName ?? (operation.endsWith('EventBus') ? body.Name : undefined);
  return [{ action: `events:${operation}`, resource: bus === undefined ? '*' : busArn(bus) }];
}

/**
 * S3's action from a path-style REST request: object reads, writes and deletes on
 * `bucket/key`; bucket creation, deletion and listing on the bucket.
 */
function s3Permission(method: string, path: string): RequiredPermission {
  const url = new URL(path, 'http://s3.local');
  const [bucket = '', ...keyParts] = url.pathname.split('/').filter((part, index) => index > 0 || part !== '');
  const key = keyParts.map(decodeURIComponent).join('/');
  if (key) {
    const action = { GET: 'GetObject', HEAD: 'GetObject', PUT: 'PutObject', POST: 'PutObject', DELETE: 'DeleteObject' }[method] ?? 'GetObject';
    return { action: `s3:${action}`, resource: `arn:aws:s3:::${bucket}/${key}` };
  }
  if (url.searchParams.has('delete')) return { action: 's3:DeleteObject', resource: `arn:aws:s3:::${bucket}/*` };
  const action = { PUT: 'CreateBucket', DELETE: 'DeleteBucket' }[method] ?? 'ListBucket';
  return { action: `s3:${action}`, resource: `arn:aws:s3:::${bucket}` };
}
