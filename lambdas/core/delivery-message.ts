import * as z from 'zod';

/** One (event, subscription) pair on the delivery queue, written by the fan-out. */
export const deliveryMessageSchema = z.object({
  /** Standard Webhooks `webhook-id`: stable across retries, unique per event and subscription. */
  webhookId: z.string().min(1),
  eventId: z.string().min(1),
  /** The topic the subscription matched (base name or refinement). */
  event: z.string().min(1),
  projectId: z.string().min(1),
  subscriptionId: z.string().min(1),
  publishedAt: z.string(),
  payload: z.record(z.string(), z.unknown()),
});
export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

/** The webhook id of an event for one subscription; never contains `.` (it is signed as `{id}.{ts}.{body}`). */
export const webhookIdOf = (eventId: string, subscriptionId: string): string =>
  `msg_${eventId}_${subscriptionId}`.replace(/\./g, '-');
