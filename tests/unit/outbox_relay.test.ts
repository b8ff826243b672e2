import { expect } from 'chai';
import { Allocated, type Event } from '../../src/allocation/domain/events';
import { OutboxRelay } from '../../src/allocation/service_layer/outbox';
import { FakeOutbox, silentLogger } from './fakes';

const allocated = (orderid: string, sku: string) => new Allocated(orderid, sku, 1, 'b1');

describe('outbox relay', () => {
  it('delivers in order per product, and a failure holds back only that product', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'));
    outbox.append('LAMP', allocated('o2', 'LAMP'));
    outbox.append('CHAIR', allocated('o3', 'CHAIR'));
    const sent: string[] = [];
    const publish = async (event: Event) => {
      const { orderid } = event as Allocated;
      if (orderid === 'o1') throw new Error('Redis is down');
      sent.push(orderid);
      return Promise.resolve();
    };
    const relay = new OutboxRelay(outbox, new Map([[Allocated, publish]]), silentLogger);

    await relay.deliverPending();

    expect(sent).to.deep.equal(['o3']);
    expect(outbox.messages.map((m) => [m.event, m.delivered, m.attempts])).to.deep.equal([
      [allocated('o1', 'LAMP'), false, 1],
      [allocated('o2', 'LAMP'), false, 0],
      [allocated('o3', 'CHAIR'), true, 0],
    ]);
  });

  it('delivers what waited once the failure is over, in order', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'));
    outbox.append('LAMP', allocated('o2', 'LAMP'));
    let down = true;
    const sent: string[] = [];
    const publish = async (event: Event) => {
      if (down) throw new Error('Redis is down');
      sent.push((event as Allocated).orderid);
      return Promise.resolve();
    };
    const relay = new OutboxRelay(outbox, new Map([[Allocated, publish]]), silentLogger);
    await relay.deliverPending();

    down = false;
    await relay.deliverPending();

    expect(sent).to.deep.equal(['o1', 'o2']);
  });
});
