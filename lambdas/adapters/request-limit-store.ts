import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TooManyRequestsError } from '../core/errors';
import { RequestLimit, decide, emissionIntervalMs, isUnlimited, retryAfterSeconds, toleranceMs } from '../core/request-limit';
import { TABLE_KEYS } from '../core/settings';
import { dynamoDocumentClient } from './aws-clients';
import { logger } from './observability';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

/** How long an idle key's item outlives its last request before TTL removes it. */
const IDLE_ITEM_SECONDS = 3600;

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';

/**
 * Per-tenant request limits kept in the table: one item per limited key, `{pk: LIMIT#<scope>#<key>,
 * tat}`, the GCRA's theoretical arrival time in epoch ms ({@link decide}). Every container
 * shares it, so a limit holds on AWS however many containers serve a project.
 *
 * Each allowed request costs one conditional UpdateItem: "advance the TAT" when the key is busy,
 * "start from now" when it was idle (a container guesses which from the last TAT it saw; a wrong
 * guess costs one failed conditional write). A refusal is remembered in the container until its
 * retry time, since a TAT never moves back: a flood against one project is refused from memory
 * and does not become a hot partition.
 */
export class RequestLimitStore {
  /** Per key: the last TAT this container saw, and until when it knows requests are refused. */
  private readonly seen = new Map<string, { tatMs: number; refusedUntilMs?: number }>();

  constructor(
    private readonly tableName: string,
    private readonly client = dynamoDocumentClient,
  ) {}

  /**
   * Takes one request from `scope`/`key`'s limit, or throws {@link TooManyRequestsError} with the
   * wait. A table that cannot answer lets the request through (logged): a limit must not turn a
   * DynamoDB hiccup into an outage of the API.
   */
  async take(scope: string, key: string, limit: RequestLimit, what: string, nowMs = Date.now()): Promise<void> {
    if (isUnlimited(limit)) return;
    const id = `${scope}#${key}`;
    const known = this.seen.get(id);
    if (known?.refusedUntilMs !== undefined && known.refusedUntilMs > nowMs) {
      throw this.refusal(what, known.refusedUntilMs - nowMs);
    }
    try {
      const decision = await this.advance(id, known?.tatMs, nowMs, limit);
      if (decision.allowed) {
        this.seen.set(id, { tatMs: decision.tatMs });
        return;
      }
      this.seen.set(id, { tatMs: nowMs + decision.retryAfterMs + toleranceMs(limit), refusedUntilMs: nowMs + decision.retryAfterMs });
      throw this.refusal(what, decision.retryAfterMs);
    } catch (error) {
      if (error instanceof TooManyRequestsError) throw error;
      logger.warn('request limit not checked: the table did not answer; the request is let through', { scope, error: String(error) });
    }
  }

  private refusal(what: string, retryAfterMs: number): TooManyRequestsError {
    const seconds = retryAfterSeconds(retryAfterMs);
    return new TooManyRequestsError(`${what}: too many requests; retry in ${seconds} s`, seconds);
  }

  /** One conditional write (two when the guess was wrong), a consistent read only to refuse. */
  private async advance(id: string, guessTatMs: number | undefined, nowMs: number, limit: RequestLimit) {
    const busy = guessTatMs !== undefined && guessTatMs > nowMs;
    for (const attempt of busy ? ['advance', 'restart'] as const : ['restart', 'advance'] as const) {
      const tatMs = await this.tryWrite(attempt, id, nowMs, limit);
      if (tatMs !== undefined) return { allowed: true as const, tatMs };
    }
    // Neither: the TAT is beyond the tolerance (or moved under us); read it to say how long to wait.
    const stored = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keyOf(id), ConsistentRead: true }));
    const decision = decide(stored.Item?.tat as number | undefined, nowMs, limit);
    if (decision.allowed) return { allowed: false as const, retryAfterMs: emissionIntervalMs(limit) };
    return decision;
  }

  /**
   * `advance`: TAT += interval, if now ≤ TAT ≤ now + tolerance. `restart`: TAT = now + interval,
   * if there is none or it has passed. Returns the new TAT, or `undefined` when the condition failed.
   */
  private async tryWrite(kind: 'advance' | 'restart', id: string, nowMs: number, limit: RequestLimit): Promise<number | undefined> {
    const interval = emissionIntervalMs(limit);
    const expires = Math.ceil((nowMs + toleranceMs(limit) + interval) / 1000) + IDLE_ITEM_SECONDS;
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(id),
          ...(kind === 'advance'
            ? {
                UpdateExpression: 'SET tat = tat + :interval, #ttl = :expires',
                ConditionExpression: 'tat BETWEEN :now AND :latest',
                ExpressionAttributeValues: { ':interval': interval, ':now': nowMs, ':latest': nowMs + toleranceMs(limit), ':expires': expires },
              }
            : {
                UpdateExpression: 'SET tat = :next, #ttl = :expires',
                ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
                ExpressionAttributeValues: { ':next': nowMs + interval, ':now': nowMs, ':expires': expires },
              }),
          ExpressionAttributeNames: { '#ttl': ttlAttribute },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return result.Attributes?.tat as number | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}

const keyOf = (id: string) => ({ [PK]: `LIMIT#${id}`, [SK]: 'LIMIT' });
