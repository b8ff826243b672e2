// What a commit writes besides the products comes from the events and EVENT_HANDLERS as data
// (commit_plan.ts); the bus learns what was committed by pulling it from the unit of work.
import { expect } from 'chai';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { Allocated, Deallocated, OutOfStock } from '../../src/allocation/domain/events';
import { commitPlan } from '../../src/allocation/service_layer/commit_plan';
import { COMMAND_HANDLERS, EVENT_HANDLERS } from '../../src/allocation/service_layer/handlers';
import { MessageBus } from '../../src/allocation/service_layer/messagebus';
import { FakeNotifications, FakeUnitOfWork, recordingPublisher, silentLogger } from './fakes';

describe('commit plan', () => {
  it('gives the read-model rows of the inline handlers, one outbox row per outbox handler and one history row per event, with their cause', () => {
    const allocated = new Allocated('o1', 'LAMP', 2, 'b1', 3);
    const freed = new Deallocated('o2', 'LAMP', 1, 'b1', 4);
    const outOfStock = new OutOfStock('LAMP');

    const cause = { kind: 'http' as const, id: 'r1' };

    const plan = commitPlan([allocated, freed, outOfStock], EVENT_HANDLERS, () => cause);

    expect(plan.viewRows).to.deep.equal([
      { orderid: 'o1', sku: 'LAMP', batchref: 'b1', version: 3 },
      { orderid: 'o2', sku: 'LAMP', batchref: null, version: 4 },
    ]);
    expect(plan.outbox).to.deep.equal([
      { event: allocated, handler: 'line_allocated', cause },
      { event: freed, handler: 'reallocate', cause },
      { event: outOfStock, handler: 'email', cause },
    ]);
    expect(plan.history.map((row) => [row.type, row.cause_kind, row.cause_id])).to.deep.equal([
      ['allocated', 'http', 'r1'],
      ['deallocated', 'http', 'r1'],
      ['out_of_stock', 'http', 'r1'],
    ]);
  });

  it('refuses an event no handler table row names', () => {
    expect(() => commitPlan([new Allocated('o1', 'LAMP', 1, 'b1', 1)], new Map())).to.throw(
      'No handlers registered for event Allocated',
    );
  });
});

describe('the bus pulls what a unit of work committed', () => {
  function busWithKicks(): { bus: MessageBus; kicks: () => number } {
    const uow = new FakeUnitOfWork();
    let kicks = 0;
    const bus = new MessageBus({
      startUow: () => uow,
      commandHandlers: COMMAND_HANDLERS,
      eventHandlers: EVENT_HANDLERS,
      deps: {
        publish: recordingPublisher(),
        notifications: new FakeNotifications(),
        stockEmail: 'stock@example.com',
      },
      log: silentLogger,
      outboxWritten: () => (kicks += 1),
    });
    return { bus, kicks: () => kicks };
  }

  it('tells the relay once per commit whose events have outbox handlers, and not otherwise', async () => {
    const { bus, kicks } = busWithKicks();

    await bus.handle(new CreateBatch('b1', 'LAMP', 10, null)); // no event
    const afterBatch = kicks();
    await bus.handle(new Allocate('o1', 'LAMP', 2)); // Allocated: line_allocated
    await bus.handle(new Allocate('o1', 'LAMP', 2)); // already allocated: no event

    expect([afterBatch, kicks()]).to.deep.equal([0, 1]);
  });
});
