/**
 * Where a project's publish → receipt time goes, stage by stage: the local stack's invocation
 * traces (`onInvocation`: each SQS record's send and first receive, each invocation's start and
 * end) joined with the receiver's receipts by event id and webhook-id. Nothing is added to the
 * handlers; the bodies are parsed after the run, not while it is measured.
 */
import type { InvocationTrace } from '../local/sqs-event-source';

/** A receipt at the bench receiver: webhook-id, arrival, and the payload's `sentAt` (epoch ms). */
export interface TracedReceipt {
  id: string;
  at: number;
  sentAt: number;
}

/** One event's time by stage, in ms; they add up to `total`. */
export interface StageRow {
  total: number;
  /** PutEvents, the rule and EventBridge's send to the fan-out queue. */
  publish: number;
  /** On the fan-out queue until a poller first received it. */
  fanOutQueue: number;
  /** Received until the fan-out was invoked (the batch gathered, a free execution). */
  fanOutStart: number;
  /** The fan-out's work until the delivery message was on its queue. */
  fanOutRun: number;
  /** On the delivery queue until first received. */
  deliveryQueue: number;
  /** Received until the delivery function was invoked. */
  deliveryStart: number;
  /** Held, forwarded to the slow lane or retried before the invocation that POSTed (0 when the first did). */
  resent: number;
  /** The POSTing invocation's start until the receiver had the request. */
  post: number;
}

export const STAGES = ['publish', 'fanOutQueue', 'fanOutStart', 'fanOutRun', 'deliveryQueue', 'deliveryStart', 'resent', 'post'] as const;

interface Seen {
  sentToQueue: number;
  firstReceived: number;
  started: number;
}

/** Collects invocations while a case runs; `rows` joins them with the receipts afterwards. */
export class StageTrace {
  private readonly invocations: InvocationTrace[] = [];

  readonly onInvocation = (invocation: InvocationTrace): void => {
    this.invocations.push(invocation);
  };

  /** One row per receipt whose event and delivery were both traced (the first receipt of each webhook-id). */
  rows(receipts: readonly TracedReceipt[]): StageRow[] {
    const fanOuts = new Map<string, Seen>();
    const deliveries = new Map<string, Seen[]>();
    const eventIds = new Map<string, string>();
    for (const invocation of this.invocations) {
      for (const record of invocation.records) {
        const seen = {
          sentToQueue: Number(record.attributes.SentTimestamp),
          firstReceived: Number(record.attributes.ApproximateFirstReceiveTimestamp),
          started: invocation.startedAt,
        };
        const body = parse(record.body);
        // A pack (docs/design.md §3.20) carries several deliveries, each seen with the record.
        const carried = Array.isArray(body?.pack) ? (body.pack as Record<string, unknown>[]) : body ? [body] : [];
        for (const delivery of carried) {
          if (typeof delivery.webhookId !== 'string') continue;
          const list = deliveries.get(delivery.webhookId) ?? [];
          list.push(seen);
          deliveries.set(delivery.webhookId, list);
          if (typeof delivery.eventId === 'string') eventIds.set(delivery.webhookId, delivery.eventId);
        }
        if (typeof body?.id === 'string' && 'detail' in body && !fanOuts.has(body.id)) fanOuts.set(body.id, seen);
      }
    }
    const rows: StageRow[] = [];
    const done = new Set<string>();
    for (const receipt of receipts) {
      if (done.has(receipt.id)) continue;
      done.add(receipt.id);
      const tries = (deliveries.get(receipt.id) ?? []).filter((seen) => seen.started <= receipt.at).sort((a, b) => a.started - b.started);
      const first = tries[0];
      const posting = tries[tries.length - 1];
      const eventId = eventIds.get(receipt.id);
      const fanOut = eventId === undefined ? undefined : fanOuts.get(eventId);
      if (!first || !posting || !fanOut || !receipt.sentAt) continue;
      rows.push({
        total: receipt.at - receipt.sentAt,
        publish: fanOut.sentToQueue - receipt.sentAt,
        fanOutQueue: fanOut.firstReceived - fanOut.sentToQueue,
        fanOutStart: fanOut.started - fanOut.firstReceived,
        fanOutRun: first.sentToQueue - fanOut.started,
        deliveryQueue: first.firstReceived - first.sentToQueue,
        deliveryStart: first.started - first.firstReceived,
        resent: posting.started - first.started,
        post: receipt.at - posting.started,
      });
    }
    return rows;
  }
}

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line: the mean of each stage over the slowest `share` of the events (those that make a
 * p95 for 0.05), and over the middle half, e.g. to tell a queue's wait from a function's work.
 */
export function describeStages(rows: readonly StageRow[], share = 0.05): string {
  if (rows.length === 0) return 'no traced events';
  const sorted = [...rows].sort((a, b) => b.total - a.total);
  const slowest = sorted.slice(0, Math.max(1, Math.ceil(share * sorted.length)));
  const middle = sorted.slice(Math.floor(sorted.length / 4), Math.max(Math.floor(sorted.length / 4) + 1, Math.ceil((3 * sorted.length) / 4)));
  const means = (group: StageRow[]): string =>
    STAGES.map((stage) => `${stage} ${Math.round(group.reduce((sum, row) => sum + row[stage], 0) / group.length)}`).join(', ');
  return `slowest ${Math.round(share * 100)} % (${slowest.length} events, ms): ${means(slowest)}; middle half: ${means(middle)}`;
}
