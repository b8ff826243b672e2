import { expect } from 'chai';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { Allocated, type Event } from '../../src/allocation/domain/events';
import {
  PartlyDelivered,
  PermanentDeliveryError,
  TransportUnreachable,
} from '../../src/allocation/service_layer/errors';
import { OutboxRelay } from '../../src/allocation/service_layer/outbox';
import type { Deliver } from '../../src/allocation/service_layer/outbox_delivery';
import type { MessageMeta, Metrics } from '../../src/allocation/service_layer/ports';
import { FakeOutbox, FakeUnitOfWork, silentLogger } from './fakes';

const allocated = (orderid: string, sku: string) => new Allocated(orderid, sku, 1, 'b1', 1);

/** A Redis publish that fails once, for the order named, and records the first deliveries. */
function publishFailingOnce(orderid: string) {
  const firsts: string[] = [];
  let failed = false;
  const publish = async (_channel: string, event: Event, _meta: MessageMeta) => {
    const order = (event as Allocated).orderid;
    if (order === orderid && !failed) {
      failed = true;
      throw new Error('ERR injected fault');
    }
    if (!firsts.includes(order)) firsts.push(order);
    return Promise.resolve();
  };
  return Object.assign(publish, { firsts });
}

/** A transport that is down while `down` is true, counting every attempt made on it. */
function transport(failure: () => Error) {
  const state = { down: true, attempts: 0, sent: [] as string[] };
  const deliver: Deliver = async (_handler, messages) => {
    for (const m of messages) {
      state.attempts += 1;
      if (state.down) throw failure();
      state.sent.push((m.event as Allocated).orderid);
    }
    return Promise.resolve();
  };
  return Object.assign(state, { deliver });
}

function gauge(): Metrics & { open: Map<string, boolean> } {
  const open = new Map<string, boolean>();
  return {
    open,
    handled: () => undefined,
    retried: () => undefined,
    delivered: () => undefined,
    circuitOpen: (handler, value) => open.set(handler, value),
  };
}

describe('first deliveries in order', () => {
  it('keeps commit order per product when one message of a group fails and a later one would succeed', async () => {
    const uow = new FakeUnitOfWork();
    const publish = publishFailingOnce('o2');
    const service = bootstrap({
      uow: () => uow,
      outbox: uow.outbox,
      publish,
      logger: silentLogger,
    });
    await service.bus.handle(new CreateBatch('b1', 'LAMP', 10, null));
    for (const orderid of ['o1', 'o2', 'o3']) {
      await service.bus.handle(new Allocate(orderid, 'LAMP', 1));
    }

    await service.relay.deliverPending();
    const afterFirstDrain = [...publish.firsts];
    await service.relay.deliverPending();

    expect(afterFirstDrain).to.deep.equal(['o1']);
    expect(publish.firsts).to.deep.equal(['o1', 'o2', 'o3']);
    expect(uow.outbox.pending()).to.deep.equal([]);
  });

  it('sends the messages before the failed one only once', async () => {
    const outbox = new FakeOutbox();
    for (const o of ['o1', 'o2', 'o3']) outbox.append('LAMP', allocated(o, 'LAMP'), ['email']);
    const sent: string[] = [];
    const relay = new OutboxRelay(
      outbox,
      // as the email handler does: one at a time, saying how many went out before a failure
      async (_handler, messages) => {
        for (const [i, m] of messages.entries()) {
          const order = (m.event as Allocated).orderid;
          if (order === 'o2') {
            throw new PartlyDelivered(i, new PermanentDeliveryError('SMTP 550: no such mailbox'));
          }
          sent.push(order);
        }
        return Promise.resolve();
      },
      silentLogger,
    );

    await relay.deliverPending();

    expect(sent).to.deep.equal(['o1', 'o3']);
    expect(outbox.dead.map((d) => (d.message.event as Allocated).orderid)).to.deep.equal(['o2']);
  });
});

describe('circuit breaker', () => {
  it('counts no attempt while the transport is unreachable, and makes no dead letter', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated']);
    const redis = transport(() => new TransportUnreachable('connect ECONNREFUSED'));
    const relay = new OutboxRelay(outbox, redis.deliver, silentLogger, {
      maxAttempts: 2,
      probeMs: 0,
    });

    for (let i = 0; i < 5; i++) await relay.deliverPending();

    expect(redis.attempts).to.equal(5);
    expect(outbox.dead).to.deep.equal([]);
    expect(outbox.messages.map((m) => m.attempts)).to.deep.equal([0]);
  });

  it('tries nothing but one probe per interval while open, and delivers the backlog in order once closed', async () => {
    const outbox = new FakeOutbox();
    for (const o of ['o1', 'o2', 'o3'])
      outbox.append('LAMP', allocated(o, 'LAMP'), ['line_allocated']);
    outbox.append('CHAIR', allocated('o4', 'CHAIR'), ['line_allocated']);
    const redis = transport(() => new TransportUnreachable('Connection is closed.'));
    const metrics = gauge();
    const relay = new OutboxRelay(outbox, redis.deliver, silentLogger, {
      probeMs: 60_000,
      metrics,
    });

    await relay.deliverPending(); // opens the circuit (both products were in flight)
    const attemptsWhenOpened = redis.attempts;
    for (let i = 0; i < 5; i++) await relay.deliverPending();

    expect(attemptsWhenOpened).to.equal(2);
    expect(redis.attempts).to.equal(2);
    expect(metrics.open.get('line_allocated')).to.equal(true);
  });

  it('closes on a successful probe and delivers what waited, in order', async () => {
    const outbox = new FakeOutbox();
    for (const o of ['o1', 'o2', 'o3'])
      outbox.append('LAMP', allocated(o, 'LAMP'), ['line_allocated']);
    const redis = transport(() => new TransportUnreachable('Connection is closed.'));
    const metrics = gauge();
    const relay = new OutboxRelay(outbox, redis.deliver, silentLogger, { probeMs: 0, metrics });
    await relay.deliverPending();

    redis.down = false;
    for (let i = 0; i < 3 && outbox.pending().length > 0; i++) await relay.deliverPending();

    expect(redis.sent).to.deep.equal(['o1', 'o2', 'o3']);
    expect(metrics.open.get('line_allocated')).to.equal(false);
  });

  it('an open circuit holds back only its own handler', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated', 'email']);
    outbox.append('LAMP', allocated('o2', 'LAMP'), ['line_allocated', 'email']);
    const emailed: string[] = [];
    const relay = new OutboxRelay(
      outbox,
      async (handler, messages) => {
        if (handler === 'line_allocated') throw new TransportUnreachable('ECONNREFUSED');
        emailed.push(...messages.map((m) => (m.event as Allocated).orderid));
        return Promise.resolve();
      },
      silentLogger,
      { probeMs: 60_000 },
    );

    await relay.deliverPending();
    await relay.deliverPending();

    expect(emailed).to.deep.equal(['o1', 'o2']);
    expect(outbox.pending().map((m) => m.handler)).to.deep.equal([
      'line_allocated',
      'line_allocated',
    ]);
  });

  it('still counts a failure of the message itself, and a permanent one is a dead letter at once', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['email']);
    const relay = new OutboxRelay(
      outbox,
      async () => Promise.reject(new PermanentDeliveryError('SMTP 550: mailbox unavailable')),
      silentLogger,
      { probeMs: 0 },
    );

    await relay.deliverPending();

    expect(outbox.dead.map((d) => d.error)).to.deep.equal([
      'PermanentDeliveryError: SMTP 550: mailbox unavailable',
    ]);
  });
});

describe('pause', () => {
  it('a paused handler is not delivered, and what waited goes out in order once resumed', async () => {
    const outbox = new FakeOutbox();
    for (const o of ['o1', 'o2']) outbox.append('LAMP', allocated(o, 'LAMP'), ['line_allocated']);
    const paused = new Set(['line_allocated']);
    const sent: string[] = [];
    const relay = new OutboxRelay(
      outbox,
      async (_handler, messages) => {
        sent.push(...messages.map((m) => (m.event as Allocated).orderid));
        return Promise.resolve();
      },
      silentLogger,
      {
        controls: {
          state: async () => ({ paused, openCircuits: new Set(), readAt: 0 }),
          circuitChanged: async () => undefined,
        },
      },
    );

    await relay.deliverPending();
    const whilePaused = [...sent];
    paused.clear();
    await relay.deliverPending();

    expect(whilePaused).to.deep.equal([]);
    expect(sent).to.deep.equal(['o1', 'o2']);
  });
});

describe('a slow drain', () => {
  it('is said so in the log, once, while it keeps the relay busy', async () => {
    const outbox = new FakeOutbox();
    outbox.append('LAMP', allocated('o1', 'LAMP'), ['line_allocated']);
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_obj: object, msg: string) => void warnings.push(msg) };
    const relay = new OutboxRelay(
      outbox,
      () => new Promise((resolve) => setTimeout(resolve, 60)),
      log,
      { slowDrainMs: 10 },
    );

    await relay.deliverPending();

    expect(warnings).to.deep.equal([
      'outbox drain still running; this process keeps the relay lease',
    ]);
  });
});
