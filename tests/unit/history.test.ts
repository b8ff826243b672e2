import { expect } from 'chai';
import {
  Allocated,
  BatchCreated,
  BatchQuantityChanged,
  Deallocated,
  OutOfStock,
  StillOutOfStock,
} from '../../src/allocation/domain/events';
import { causeOfChain, historyRows } from '../../src/allocation/service_layer/history';

describe('history rows', () => {
  it('tells each event as one row, with its cause', () => {
    const events = [
      new BatchCreated('LAMP', 'b1', 10, null, 1),
      new BatchQuantityChanged('LAMP', 'b1', 10, 4, 2),
      new Deallocated('o1', 'LAMP', 5, 'b1', 2),
      new Allocated('o1', 'LAMP', 5, 'b2', 3),
      new OutOfStock('LAMP', 'o2', 7, 4),
      new StillOutOfStock('LAMP', 'o3', 1, 4),
    ];

    const rows = historyRows(events, causeOfChain({ cause: { kind: 'message', id: 'm1' } }));

    expect(rows.map((r) => [r.type, r.version, r.orderid, r.qty, r.batchref])).to.deep.equal([
      ['batch_created', 1, null, 10, 'b1'],
      ['quantity_changed', 2, null, 4, 'b1'],
      ['deallocated', 2, 'o1', 5, 'b1'],
      ['allocated', 3, 'o1', 5, 'b2'],
      ['out_of_stock', 4, 'o2', 7, null],
      ['out_of_stock', 4, 'o3', 1, null],
    ]);
    expect(rows[1]).to.include({ from: 10, to: 4 });
    expect(rows.every((r) => r.cause_kind === 'message' && r.cause_id === 'm1')).to.equal(true);
  });

  it("gives a re-allocated line the cause of the change that freed it, others the chain's", () => {
    const causeOf = causeOfChain({
      cause: { kind: 'message', id: 'm1' },
      lineCauses: new Map([['o2', { kind: 'replay' as const, id: '42' }]]),
    });

    const rows = historyRows(
      [new Allocated('o1', 'LAMP', 1, 'b1', 5), new Allocated('o2', 'LAMP', 1, 'b1', 5)],
      causeOf,
    );

    expect(rows.map((r) => [r.orderid, r.cause_kind, r.cause_id])).to.deep.equal([
      ['o1', 'message', 'm1'],
      ['o2', 'replay', '42'],
    ]);
  });

  it('leaves the cause empty when the chain has none', () => {
    const [row] = historyRows([new BatchCreated('LAMP', 'b1', 1, null, 1)], causeOfChain({}));

    expect(row).to.include({ cause_kind: null, cause_id: null });
  });
});
