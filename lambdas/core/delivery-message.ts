import * as z from 'zod';

/**
 * One (event, subscription) pair on a delivery queue, written by the fan-out and re-sent by the
 * delivery function for every retry or wait. The attempt number and the place in the retry
 * schedule travel in the message, so SQS's receive count only guards against poison (a message
 * that crashes the function again and again), never decides how often a subscriber is tried.
 */
export const deliveryMessageSchema = z.object({
  /** Standard Webhooks `webhook-id`: stable across retries, unique per event and subscription. */
  webhookId: z.string().min(1),
  eventId: z.string().min(1),
  /** The topic the subscription matched (base name or refinement). */
  event: z.string().min(1),
  projectId: z.string().min(1),
  subscriptionId: z.string().min(1),
  publishedAt: z.string(),
  /**
   * The payload as published, this very object: `z.record` would copy it key by key into a new
   * object, and assigning a `__proto__` key sets the copy's prototype instead of a key, so a
   * payload's own `__proto__` would be dropped before delivery.
   */
  payload: z.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
    message: 'must be a JSON object',
  }),
  /**
   * The fan-out stored the payload with the event: attempts within a few days of publishing
   * refer to it instead of keeping a copy (lambdas/core/stored-payload.ts).
   */
  payloadStored: z.boolean().optional(),
  /** The number the next POST gets in the attempt log (1 for the first). */
  attempt: z.number().int().positive().default(1),
  /** Retries of the schedule already spent; 0 until the first failure (and again after a DLQ redrive). */
  retry: z.number().int().nonnegative().default(0),
  /** Epoch ms before which the message must not be POSTed (a retry's or a wait's due time). */
  notBefore: z.number().int().nonnegative().optional(),
  /**
   * Epoch ms of the rate-limit slot reserved for this delivery: at its slot it goes without
   * reserving again (a held delivery is re-sent once, for exactly its slot).
   */
  rateSlotAt: z.number().int().nonnegative().optional(),
  /**
   * It missed a slot once by the time of its POST and was sent back for another: a second miss
   * posts it late rather than send it back again, so sustained lag cannot keep it from going.
   */
  slotRetaken: z.boolean().optional(),
});
export type DeliveryMessage = z.input<typeof deliveryMessageSchema>;
export type ParsedDeliveryMessage = z.output<typeof deliveryMessageSchema>;

/**
 * Several deliveries of one subscription in one message: the fan-out packs a subscription's
 * deliveries of a batch together (docs/design.md §3.20), so a busy subscriber costs one SQS
 * send, receive and delete per pack rather than per delivery. Each is handled as if it had come
 * alone; one that cannot be handled goes on alone, as its own message, and the pack is received
 * again whole only if SQS will not take that message either.
 */
export const deliveryPackSchema = z.object({ pack: z.array(deliveryMessageSchema).min(1) });

/** The most deliveries a pack carries, and its largest body (SQS's batch budget, so a send takes several). */
export const DELIVERY_PACK = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/** A pack's body from its deliveries' bodies, as they would have been sent alone. */
export const packBody = (bodies: string[]): string => `{"pack":[${bodies.join(',')}]}`;

/** The webhook id of an event for one subscription; never contains `.` (it is signed as `{id}.{ts}.{body}`). */
export const webhookIdOf = (eventId: string, subscriptionId: string): string =>
  `msg_${eventId}_${subscriptionId}`.replace(/\./g, '-');

/**
 * The wake-up message of a subscription's held deliveries (parked while its circuit was open):
 * when it arrives the delivery function releases them, paced, or sends it again for later. Only
 * the wake-up whose `wakeAt` the health item still carries acts; any other is stale.
 */
export const wakeMessageSchema = z.object({
  wake: z.literal('release-held'),
  projectId: z.string().min(1),
  subscriptionId: z.string().min(1),
  wakeAt: z.number().int().nonnegative(),
  /** Deliveries a second this wake-up releases at (the release ramps up); absent: the first pace. */
  pace: z.number().positive().optional(),
});
export type WakeMessage = z.infer<typeof wakeMessageSchema>;
