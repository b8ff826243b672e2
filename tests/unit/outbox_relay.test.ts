import { expect } from 'chai';
import { Allocated } from '../../src/allocation/domain/events';
import { PermanentDeliveryError } from '../../src/allocation/service_layer/errors';
import { OutboxRelay } from '../../src/allocation/service_layer/outbox';
import type { Deliver } from '../../src/allocation/service_layer/outbox_delivery';
import { FakeOutbox, silentLogger } from './fakes';

const allocated = (orderid: string, sku: string) => new Allocated(orderid, sku, 1, 'b1', 1);

/** A handler that records what it publishes, failing for the orders in `failing`. */
function publisher(failing: Set<string>): Deliver & { sent: string[] } {
  const sent: string[] = [];
  const deliver = async (_handler: string, messages: { event: unknown }[]) => {
    const orders = messages.map((m) => (m.event as Allocated).orderid);
    if (orders.some((o) => failing.has(o))) throw new Error('Redis is down');
    sent.push(...orders);
    return Promise.resolve();
  };
  return Object.assign(deliver, { sent });
}

describe('outbox relay', () => {
  it('delivers in order per product, and a failure holds back only that product', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated']);
    outbox.append('LAMP', allocated('o2', 'LAMP'), ['line_allocated']);
    outbox.append('CHAIR', allocated('o3', 'CHAIR'), ['line_allocated']);
    const deliver = publisher(new Set(['o1']));
    const relay = new OutboxRelay(outbox, deliver, silentLogger);

    await relay.deliverPending();

    expect(deliver.sent).to.deep.equal(['o3']);
    expect(outbox.messages.map((m) => [m.event, m.delivered, m.attempts])).to.deep.equal([
      [allocated('o1', 'LAMP'), false, 1],
      [allocated('o2', 'LAMP'), false, 0],
      [allocated('o3', 'CHAIR'), true, 0],
    ]);
  });

  it('a failure holds back only its own handler', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated', 'email']);
    const sent: string[] = [];
    const relay = new OutboxRelay(
      outbox,
      async (handler) => {
        if (handler === 'line_allocated') throw new Error('Redis is down');
        sent.push(handler);
        return Promise.resolve();
      },
      silentLogger,
    );

    await relay.deliverPending();

    expect(sent).to.deep.equal(['email']);
    expect(outbox.pending().map((m) => m.handler)).to.deep.equal(['line_allocated']);
  });

  it('delivers what waited once the failure is over, in order', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated']);
    outbox.append('LAMP', allocated('o2', 'LAMP'), ['line_allocated']);
    const failing = new Set(['o1']);
    const deliver = publisher(failing);
    const relay = new OutboxRelay(outbox, deliver, silentLogger);
    await relay.deliverPending();

    failing.clear();
    await relay.deliverPending();

    expect(deliver.sent).to.deep.equal(['o1', 'o2']);
  });
});

describe('outbox relay dead letters', () => {
  it('gives up on a message after maxAttempts deliveries, and the next one of its product goes on', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated']);
    outbox.append('LAMP', allocated('o2', 'LAMP'), ['line_allocated']);
    const deliver = publisher(new Set(['o1']));
    const relay = new OutboxRelay(outbox, deliver, silentLogger, { maxAttempts: 3 });

    await relay.deliverPending();
    await relay.deliverPending();
    const beforeGivingUp = [...deliver.sent];
    await relay.deliverPending();

    expect(beforeGivingUp).to.deep.equal([]);
    expect(deliver.sent).to.deep.equal(['o2']);
    expect(outbox.dead.map((d) => d.message.event)).to.deep.equal([allocated('o1', 'LAMP')]);
    expect(outbox.dead[0].error).to.contain('Redis is down');
  });

  it('makes a permanent failure a dead letter at once', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['email']);
    outbox.append('LAMP', allocated('o2', 'LAMP'), ['email']);
    const sent: string[] = [];
    const relay = new OutboxRelay(
      outbox,
      async (_handler, messages) => {
        const orders = messages.map((m) => (m.event as Allocated).orderid);
        if (orders.includes('o1')) throw new PermanentDeliveryError('SMTP 550: no such mailbox');
        sent.push(...orders);
        return Promise.resolve();
      },
      silentLogger,
    );

    await relay.deliverPending();

    expect(sent).to.deep.equal(['o2']);
    expect(outbox.dead).to.have.length(1);
    expect(outbox.messages.every((m) => m.delivered)).to.equal(true);
  });
});
