// One notification per stock-out (SPEC section 5): what was not sent is counted here, from the
// events of each commit once it committed (a commit that lost a race and was retried counts
// once, in its retry).
import { Counter, type Registry } from 'prom-client';
import { StillOutOfStock, type Event } from '../../domain/events';

/** Counts the refusals of committed changes whose stock-out had been notified already. */
export function countSuppressedNotifications(
  registry: Registry,
): (events: readonly Event[]) => void {
  const suppressed = new Counter({
    name: 'allocation_notifications_suppressed_total',
    help: 'Out-of-stock notifications not sent: the sku was notified and has had no stock since',
    registers: [registry],
  });
  return (events) => {
    const repeats = events.filter((event) => event instanceof StillOutOfStock).length;
    if (repeats > 0) suppressed.inc(repeats);
  };
}
