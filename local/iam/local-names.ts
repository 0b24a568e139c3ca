import { CLAIM_CHECK, LOCAL_NAMES } from '../../lambdas/core/settings';

/**
 * The names the local stack gives the template's resources today, by the construct path that
 * starts each logical id (`DeliveryQueue6A0D8ED9` → `DeliveryQueue`). The bridge between the
 * hand-made local resources and the template's policies, until the local stack creates its
 * resources from the template itself.
 */
const NAME_BY_CONSTRUCT_PATH: Record<string, string> = {
  StoreTable: LOCAL_NAMES.table,
  EventsBus: LOCAL_NAMES.bus,
  EventsFanOutQueue: LOCAL_NAMES.fanOutQueue,
  EventsFanOutDlq: LOCAL_NAMES.fanOutDlq,
  EventsRuleDlq: LOCAL_NAMES.ruleDlq,
  EventsTiledeskEvents: LOCAL_NAMES.rule,
  DeliveryQueue: LOCAL_NAMES.deliveryQueue,
  DeliverySlowQueue: LOCAL_NAMES.slowDeliveryQueue,
  DeliveryDlq: LOCAL_NAMES.deliveryDlq,
  IngestClaimChecks: CLAIM_CHECK.localBucket,
};

/** The local physical name of a template resource, or undefined when the local stack has none. */
export function localPhysicalName(logicalId: string): string | undefined {
  return NAME_BY_CONSTRUCT_PATH[logicalId.replace(/[0-9A-F]{8}$/, '')];
}
