import { Allocate, ChangeBatchQuantity, CreateBatch } from '../domain/commands';
import { Allocated, Deallocated, OutOfStock, type Event } from '../domain/events';
import { Batch, OrderLine, Product } from '../domain/model';
import type { CommandHandler, EventHandler } from './messagebus';
import { DuplicateBatch, InvalidSku, UnknownBatch } from './errors';
import type { OutboxHandler } from './outbox';
import type { MessageMeta, Notifications, Publish } from './ports';
import type { UnitOfWork } from './unit_of_work';

export async function addBatch(cmd: CreateBatch, uow: UnitOfWork): Promise<void> {
  await uow.run(async () => {
    if (await uow.products.getByBatchref(cmd.ref)) {
      throw new DuplicateBatch(`Batch ${cmd.ref} already exists`);
    }
    let product = await uow.products.get(cmd.sku);
    if (!product) {
      product = new Product(cmd.sku, []);
      uow.products.add(product);
    }
    product.addBatch(new Batch(cmd.ref, cmd.sku, cmd.qty, cmd.eta));
    await uow.commit();
  });
}

export async function allocate(cmd: Allocate, uow: UnitOfWork): Promise<string | undefined> {
  const line = new OrderLine(cmd.orderid, cmd.sku, cmd.qty);
  return uow.run(async () => {
    const product = await uow.products.get(line.sku, { orderid: line.orderid });
    if (!product) throw new InvalidSku(`Invalid sku ${line.sku}`);
    const batchref = product.allocate(line);
    await uow.commit();
    return batchref;
  });
}

export async function changeBatchQuantity(
  cmd: ChangeBatchQuantity,
  uow: UnitOfWork,
): Promise<void> {
  await uow.run(async () => {
    if (cmd.messageId !== undefined && !(await uow.inbox.markProcessed(cmd.messageId))) return;
    const product = await uow.products.getByBatchref(cmd.ref);
    if (!product) throw new UnknownBatch(`Unknown batch ${cmd.ref}`);
    product.changeBatchQuantity(cmd.ref, cmd.qty, cmd.position);
    await uow.commit();
  });
}

/** A freed line is allocated again from the product's other batches. */
export async function reallocate(event: Deallocated, uow: UnitOfWork): Promise<void> {
  await allocate(new Allocate(event.orderid, event.sku, event.qty), uow);
}

export async function addAllocationToReadModel(event: Allocated, uow: UnitOfWork): Promise<void> {
  await uow.run(async () => {
    await uow.readModel.addAllocation(event.orderid, event.sku, event.batchref);
    await uow.commit();
  });
}

export async function removeAllocationFromReadModel(
  event: Deallocated,
  uow: UnitOfWork,
): Promise<void> {
  await uow.run(async () => {
    await uow.readModel.removeAllocation(event.orderid, event.sku, event.batchref);
    await uow.commit();
  });
}

export async function publishAllocatedEvent(
  event: Allocated,
  publish: Publish,
  meta: MessageMeta,
): Promise<void> {
  await publish('line_allocated', event, meta);
}

export async function sendOutOfStockNotification(
  event: OutOfStock,
  notifications: Notifications,
  stockEmail: string,
): Promise<void> {
  await notifications.send(stockEmail, `Out of stock for ${event.sku}`);
}

export const COMMAND_HANDLERS = new Map<
  typeof Allocate | typeof CreateBatch | typeof ChangeBatchQuantity,
  CommandHandler
>([
  [CreateBatch, addBatch],
  [Allocate, allocate],
  [ChangeBatchQuantity, changeBatchQuantity],
]);

/** Handlers run in-process by the bus, right after the commit that raised the event. */
export const EVENT_HANDLERS = new Map<
  typeof Allocated | typeof Deallocated | typeof OutOfStock,
  EventHandler[]
>([
  [Allocated, [addAllocationToReadModel]],
  [Deallocated, [removeAllocationFromReadModel, reallocate]],
  [OutOfStock, []],
]);

/**
 * Events whose handlers must not be lost to a crash between the commit that raised them and the
 * handlers' own commits: a freed line must be allocated again. They are written to the outbox
 * with the change, and the relay hands them back to the bus (handleDelivered) until all their
 * handlers succeeded; removeAllocationFromReadModel and reallocate are idempotent for that.
 */
export const DURABLE_EVENTS = new Set([Deallocated]);

/**
 * Handlers that touch the outside world. Their events are written to the outbox in the
 * transaction that raised them, and the relay runs these after commit, retrying until they succeed.
 */
export function outboxHandlers(deps: {
  publish: Publish;
  notifications: Notifications;
  stockEmail: string;
  /** Runs a durable event's in-process handlers (MessageBus.handleDelivered). */
  handleDelivered: (event: Event) => Promise<void>;
}): Map<typeof Allocated | typeof Deallocated | typeof OutOfStock, OutboxHandler> {
  return new Map<typeof Allocated | typeof Deallocated | typeof OutOfStock, OutboxHandler>([
    [Deallocated, (e) => deps.handleDelivered(e)],
    [Allocated, (e, meta) => publishAllocatedEvent(e as Allocated, deps.publish, meta)],
    [OutOfStock, (e) => sendOutOfStockNotification(e, deps.notifications, deps.stockEmail)],
  ]);
}
