import { stringifyJson } from '../lambdas/core/json-text';
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalActionHandler } from './aws-endpoint';
import type { AwsSideSqs } from './runtime/aws-side-sqs';

/** An EventBridge event as a rule target receives it. */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

/** A rule: an EventBridge pattern, the queue its matches go to, and the target's settings. */
export interface LocalRule {
  name: string;
  /** The rule's ARN, as EventBridge names it to the queues' policies (`aws:SourceArn`) and in dead letters. */
  arn: string;
  pattern: Readonly<Record<string, unknown>>;
  queueUrl: string;
  queueArn: string;
  /**
   * Where an event goes when the queue refuses it for good, in EventBridge's form: the event
   * envelope as the body, the reason in message attributes. Without one, the event is dropped,
   * as on AWS (the PutEvents entry succeeded when the bus accepted it).
   */
  deadLetterQueueUrl?: string;
  deadLetterQueueArn?: string;
  /**
   * `SqsParameters.MessageGroupId`, sent with every message as written, a value that looks like a
   * JSON path included: EventBridge documents dynamic paths for the fields of `EcsParameters`,
   * `HttpParameters`, `RedshiftDataParameters` and `SageMakerPipelineParameters` only
   * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html, "Dynamic path
   * parameters"). @default none
   */
  messageGroupId?: string;
  /** The target's retry policy. @default EventBridge's: 185 attempts within 24 hours */
  retry?: { maximumRetryAttempts: number; maximumEventAgeSeconds: number };
  /** `Input`: this constant JSON text is sent instead of the event. @default the event */
  input?: string;
  /** `InputPath`: the part of the event sent. @default the whole event */
  inputPath?: string;
}

export interface LocalEventBusOptions {
  busName: string;
  region: string;
  account: string;
  rules: LocalRule[];
  /** EventBridge's side of SQS (`awsSideSqs` in the stack; an SDK client does as well). */
  sqs: AwsSideSqs;
  /**
   * Whether the queue `queueArn` lets EventBridge send to it for `rule`: its queue policy must
   * allow `events.amazonaws.com` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
   * @default every queue does
   */
  queuePermits?: (queueArn: string, rule: LocalRule) => Promise<boolean>;
}

/**
 * PutEvents limits: 10 entries, and 256 KB per request counted as AWS counts an entry (the
 * UTF-8 bytes of Source, DetailType, Detail and each Resources ARN, 14 bytes for a Time), not
 * the request's JSON (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
 */
const MAX_ENTRIES = 10;
const MAX_ENTRIES_BYTES = 256 * 1024;
/**
 * A bound on the request's bytes before parsing, well above what 256 KB of entries can take in
 * JSON (quoting at most doubles them, plus names); AWS documents no request limit beyond the entries'.
 */
const MAX_REQUEST_BYTES = 4 * MAX_ENTRIES_BYTES;

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Resources?: unknown;
  Time?: unknown;
}

type EntryError = { ErrorCode: string; ErrorMessage: string };
type EntryResult = { EventId: string } | EntryError;

/**
 * The local EventBridge: `PutEvents` on one named bus, matched against the same rule pattern
 * the stack deploys, delivered to the rule's queue in EventBridge's envelope.
 */
export function localEventBus(options: LocalEventBusOptions): LocalActionHandler {
  const busArn = `arn:aws:events:${options.region}:${options.account}:event-bus/${options.busName}`;
  return async (action, body) => {
    if (action !== 'PutEvents') {
      return failure(400, 'UnknownOperationException', `The local EventBridge supports PutEvents only, not ${action}`);
    }
    if (body.length > MAX_REQUEST_BYTES) {
      return failure(413, 'RequestEntityTooLarge', 'Request is too large');
    }
    let request: { Entries?: unknown };
    try {
      request = JSON.parse(body.toString('utf8')) as { Entries?: unknown };
    } catch {
      return failure(400, 'SerializationException', 'Request body is not valid JSON');
    }
    const entries = request.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      return failure(400, 'ValidationException', `Entries must hold 1 to ${MAX_ENTRIES} entries`);
    }
    if ((entries as PutEventsEntry[]).reduce((total, entry) => total + entrySize(entry), 0) > MAX_ENTRIES_BYTES) {
      return failure(400, 'ValidationException', 'Total size of the entries in the request is over the limit of 256 KB');
    }
    const results: EntryResult[] = [];
    const matched: Match[] = [];
    entries.forEach((entry: PutEventsEntry) => {
      const checked = toEnvelope(entry, options, busArn);
      if ('ErrorCode' in checked) {
        results.push(checked);
        return;
      }
      results.push({ EventId: checked.id });
      for (const rule of options.rules) {
        if (matchesPattern(rule.pattern, checked)) matched.push({ envelope: checked, rule });
      }
    });
    await deliver(options, matched);
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
  };
}

/** An entry's size as EventBridge counts it against the 256 KB limit. */
export function entrySize(entry: PutEventsEntry): number {
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  const resources = Array.isArray(entry.Resources) ? entry.Resources.reduce((total: number, arn) => total + bytes(arn), 0) : 0;
  return (entry.Time === undefined ? 0 : 14) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail) + resources;
}

function toEnvelope(entry: PutEventsEntry, options: LocalEventBusOptions, busArn: string): EventEnvelope | EntryError {
  const bus = entry.EventBusName ?? 'default';
  if (bus !== options.busName && bus !== busArn) {
    return { ErrorCode: 'NotFoundException', ErrorMessage: `Event bus ${String(bus)} does not exist.` };
  }
  if (typeof entry.Source !== 'string' || entry.Source.length === 0) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' };
  }
  if (typeof entry.DetailType !== 'string' || entry.DetailType.length === 0) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' };
  }
  if (typeof entry.Detail !== 'string') {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: options.account,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region,
    resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
    detail,
  };
}

/** An accepted event and a rule it matched. */
interface Match {
  envelope: EventEnvelope;
  rule: LocalRule;
}

/**
 * Sends each match to its rule's queue, with the target's message group. A refusal SQS calls
 * the sender's fault (a message too large, a bad attribute) is final: the event goes to the
 * rule's DLQ at once. Any other failure is retried in the background with exponential backoff,
 * within the target's retry policy, then dead-lettered, as EventBridge does
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html). Either
 * way the PutEvents entry itself succeeded.
 */
async function deliver(options: LocalEventBusOptions, matched: Match[]): Promise<void> {
  const byRule = new Map<LocalRule, Match[]>();
  for (const item of matched) byRule.set(item.rule, [...(byRule.get(item.rule) ?? []), item]);
  for (const [rule, items] of byRule) {
    const failed = await sendPermitted(options, rule, items);
    for (const failure of failed) await handleFailure(options, rule, failure, 0);
  }
}

/**
 * Whether EventBridge may send to the queue for the rule (its queue policy). A check that fails
 * (the local evaluator threw) says so and counts as a send that failed: retried, as a transient
 * error would be, not dead-lettered as a refusal the policy never made.
 */
async function permitted(options: LocalEventBusOptions, queueArn: string, rule: LocalRule): Promise<boolean | 'unknown'> {
  if (!options.queuePermits) return true;
  try {
    return await options.queuePermits(queueArn, rule);
  } catch (error) {
    console.error(`[local EventBridge] rule ${rule.name}: could not evaluate the policy of ${queueArn}: ${(error as Error).message.slice(0, 300)}`);
    return 'unknown';
  }
}

/**
 * Sends to the rule's queue what its policy lets EventBridge send. The permission is asked again
 * at each retry, as AWS would find a policy changed meanwhile.
 */
async function sendPermitted(options: LocalEventBusOptions, rule: LocalRule, items: Match[]): Promise<TargetFailure[]> {
  const permission = await permitted(options, rule.queueArn, rule);
  if (permission === true) return sendToTarget(options, rule, items);
  if (permission === false) return items.map((item) => noPermission(item, rule.queueArn, rule));
  return items.map((item) => ({ item, code: 'INTERNAL_ERROR', message: 'the target queue policy could not be evaluated', retryable: true }));
}

/**
 * A send the queue's policy does not allow: not retried (EventBridge sends such events to the
 * rule's dead-letter queue at once, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 */
function noPermission(item: Match, queueArn: string, rule: LocalRule): TargetFailure {
  return {
    item,
    code: 'NO_PERMISSIONS',
    message: `EventBridge is not authorized to perform sqs:SendMessage on ${queueArn}: its queue policy does not allow events.amazonaws.com for ${rule.arn}`,
    retryable: false,
  };
}

interface TargetFailure {
  item: Match;
  code: string;
  message: string;
  retryable: boolean;
}

async function sendToTarget(options: LocalEventBusOptions, rule: LocalRule, items: Match[]): Promise<TargetFailure[]> {
  const failures: TargetFailure[] = [];
  const group = rule.messageGroupId === undefined ? {} : { MessageGroupId: rule.messageGroupId };
  const entries = items.map((item, n) => ({ Id: String(n), MessageBody: targetBody(rule, item.envelope), ...group }));
  try {
    const response = await options.sqs.send(new SendMessageBatchCommand({ QueueUrl: rule.queueUrl, Entries: entries }));
    for (const refused of response.Failed ?? []) {
      const item = items[Number(refused.Id)];
      if (item) failures.push({ item, code: refused.Code ?? 'SQS.Failed', message: refused.Message ?? 'target failed', retryable: refused.SenderFault !== true });
    }
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const retryable = status === undefined || status >= 500 || /Throttl/i.test((error as Error).name);
    for (const entry of entries) {
      const item = items[Number(entry.Id)];
      if (item) failures.push({ item, code: (error as Error).name, message: (error as Error).message, retryable });
    }
  }
  return failures;
}

/** Retries a retryable failure later, or dead-letters it once its policy is spent. */
async function handleFailure(options: LocalEventBusOptions, rule: LocalRule, failure: TargetFailure, attempts: number): Promise<void> {
  const policy = rule.retry ?? { maximumRetryAttempts: 185, maximumEventAgeSeconds: 86_400 };
  const delayMs = Math.min(2 ** attempts * 1000, 300_000) * (0.5 + Math.random() / 2);
  const ageMs = Date.now() - Date.parse(failure.item.envelope.time);
  const exhausted = attempts >= policy.maximumRetryAttempts ? 'MaximumRetryAttempts' : ageMs + delayMs > policy.maximumEventAgeSeconds * 1000 ? 'MaximumEventAge' : undefined;
  if (!failure.retryable || exhausted) {
    if (rule.deadLetterQueueUrl) await sendToDeadLetterQueue(options, rule, failure, attempts, exhausted ?? 'MaximumRetryAttempts');
    return;
  }
  setTimeout(() => {
    void sendPermitted(options, rule, [failure.item]).then(async ([again]) => {
      if (again) await handleFailure(options, rule, again, attempts + 1);
    });
  }, delayMs).unref();
}

/** The value at a JSON path of the dotted form EventBridge's `InputPath` takes (`$.detail`). */
function valueAtPath(jsonPath: string, value: unknown): unknown {
  if (jsonPath === '$') return value;
  let node: unknown = value;
  for (const key of jsonPath.slice(2).split('.')) {
    // Own members only: `$.detail.__proto__` or `$.detail.constructor` name nothing in the event.
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** What the target receives: the event, its `InputPath` part, or the constant `Input`. */
function targetBody(rule: LocalRule, envelope: EventEnvelope): string {
  if (rule.input !== undefined) return rule.input;
  if (rule.inputPath !== undefined) {
    const part = valueAtPath(rule.inputPath, envelope);
    return typeof part === 'string' ? part : stringifyJson(part);
  }
  return stringifyJson(envelope);
}

/** EventBridge's dead-letter message: the event as the body, why it failed as attributes. */
async function sendToDeadLetterQueue(
  options: LocalEventBusOptions,
  rule: LocalRule,
  { item: { envelope }, code, message }: TargetFailure,
  attempts: number,
  condition: string,
): Promise<void> {
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  try {
    // The dead-letter queue's policy must allow EventBridge too.
    const permission = rule.deadLetterQueueArn ? await permitted(options, rule.deadLetterQueueArn, rule) : true;
    if (permission !== true) {
      const why = permission === false ? `does not allow events.amazonaws.com for ${rule.arn}` : 'could not be evaluated';
      throw new Error(`its queue policy ${why} (sqs:SendMessage on ${rule.deadLetterQueueArn})`);
    }
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: rule.deadLetterQueueUrl,
        MessageBody: stringifyJson(envelope),
        MessageAttributes: {
          RULE_ARN: text(rule.arn),
          TARGET_ARN: text(rule.queueArn),
          ERROR_CODE: text(code),
          ERROR_MESSAGE: text(message.slice(0, 1024)),
          EXHAUSTED_RETRY_CONDITION: text(condition),
          RETRY_ATTEMPTS: { DataType: 'Number', StringValue: String(attempts) },
        },
      }),
    );
  } catch (error) {
    // The DLQ refused too: the event is lost, as EventBridge loses it then (counting it in its
    // InvocationsFailedToBeSentToDlq metric): said here in one line, so a local loss is not silent.
    console.error(
      `[local EventBridge] rule ${rule.name}: event ${envelope.id} lost: its target refused it (${code}: ${message.slice(0, 200)}) ` +
        `and so did its dead-letter queue (${(error as Error).message.slice(0, 200)}); AWS counts this as InvocationsFailedToBeSentToDlq`,
    );
  }
}

/**
 * The subset of EventBridge pattern matching the service's rules use: each key of the pattern
 * must be present in the event, a list matches any of its exact values, an object recurses.
 */
export function matchesPattern(pattern: Readonly<Record<string, unknown>>, event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown>)[key];
    if (Array.isArray(expected)) {
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((value) => expected.includes(value));
    }
    if (typeof expected === 'object' && expected !== null) {
      return matchesPattern(expected as Record<string, unknown>, actual);
    }
    return false;
  });
}

function failure(status: number, type: string, message: string): { status: number; body: unknown } {
  return { status, body: { __type: type, message } };
}
