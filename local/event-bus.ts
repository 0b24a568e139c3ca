import { stringifyJson } from '../lambdas/core/json-text';
import { randomUUID } from 'node:crypto';
import { SQSClient, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalActionHandler } from './aws-endpoint';

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

/** A rule: an EventBridge pattern, the queue its matches go to, and the target's DLQ. */
export interface LocalRule {
  name: string;
  pattern: Readonly<Record<string, unknown>>;
  queueUrl: string;
  queueArn: string;
  /**
   * Where an event goes when the queue refuses it, in EventBridge's form: the event envelope as
   * the body, the reason in message attributes. Without one, the entry fails in the PutEvents answer.
   */
  deadLetterQueueUrl?: string;
  /**
   * The target's `SqsParameters.MessageGroupId`: a static value, or a dynamic path (`$.detail.x`)
   * read from each event, as EventBridge evaluates target parameters.
   */
  messageGroupId?: string;
}

export interface LocalEventBusOptions {
  busName: string;
  region: string;
  account: string;
  rules: LocalRule[];
  sqs: SQSClient;
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

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
      return failure(400, 'ValidationException', 'Total size of the entries in the request is over the limit of 256 KB');
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
    const results: EntryResult[] = [];
    const matched: Match[] = [];
    entries.forEach((entry: PutEventsEntry, index) => {
      const checked = toEnvelope(entry, options, busArn);
      if ('ErrorCode' in checked) {
        results.push(checked);
        return;
      }
      results.push({ EventId: checked.id });
      for (const rule of options.rules) {
        if (matchesPattern(rule.pattern, checked)) matched.push({ envelope: checked, rule, index });
      }
    });
    await deliver(options, matched, results);
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
  };
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
  index: number;
}

/**
 * Sends each match to its rule's queue. EventBridge retries a target for up to a day before it
 * gives up; locally a refusal is final at once, so the event goes straight to the rule's DLQ
 * and, as on AWS, the PutEvents entry itself still succeeds.
 */
async function deliver(options: LocalEventBusOptions, matched: Match[], results: EntryResult[]): Promise<void> {
  const byRule = new Map<LocalRule, Match[]>();
  for (const item of matched) byRule.set(item.rule, [...(byRule.get(item.rule) ?? []), item]);
  for (const [rule, items] of byRule) {
    const refused: { item: Match; code: string; message: string }[] = [];
    try {
      const response = await options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: rule.queueUrl,
          Entries: items.map((item, n) => ({
            Id: String(n),
            MessageBody: stringifyJson(item.envelope),
            MessageGroupId: rule.messageGroupId === undefined ? undefined : targetParameter(rule.messageGroupId, item.envelope),
          })),
        }),
      );
      for (const failed of response.Failed ?? []) {
        const item = items[Number(failed.Id)];
        if (item) refused.push({ item, code: failed.Code ?? 'SQS.Failed', message: failed.Message ?? 'target failed' });
      }
    } catch (error) {
      for (const item of items) refused.push({ item, code: (error as Error).name, message: (error as Error).message });
    }
    for (const { item, code, message } of refused) {
      const kept = rule.deadLetterQueueUrl && (await sendToDeadLetterQueue(options, rule, rule.deadLetterQueueUrl, item.envelope, code, message));
      if (!kept) results[item.index] = { ErrorCode: 'InternalFailure', ErrorMessage: message };
    }
  }
}

/** EventBridge's dead-letter message: the event as the body, why it failed as attributes. */
async function sendToDeadLetterQueue(
  options: LocalEventBusOptions,
  rule: LocalRule,
  deadLetterQueueUrl: string,
  envelope: EventEnvelope,
  code: string,
  message: string,
): Promise<boolean> {
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  try {
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MessageBody: stringifyJson(envelope),
        MessageAttributes: {
          RULE_ARN: text(`arn:aws:events:${options.region}:${options.account}:rule/${options.busName}/${rule.name}`),
          TARGET_ARN: text(rule.queueArn),
          ERROR_CODE: text(code),
          ERROR_MESSAGE: text(message.slice(0, 1024)),
          EXHAUSTED_RETRY_CONDITION: text('MaximumRetryAttempts'),
          RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '0' },
        },
      }),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * A target parameter's value for one event: a value that is wholly a JSON path in dot notation
 * (`$.detail.id_project`) is read from the event, anything else is static. A path that reaches no
 * scalar value gives undefined (the entry then fails, as a malformed target parameter would).
 */
export function targetParameter(value: string, envelope: EventEnvelope): string | undefined {
  if (!value.startsWith('$.')) return value;
  let node: unknown = envelope;
  for (const key of value.slice(2).split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean' ? String(node) : undefined;
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
