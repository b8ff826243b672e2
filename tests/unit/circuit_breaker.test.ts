import { expect } from 'chai';
import { Circuits } from '../../src/allocation/service_layer/circuit_breaker';
import { silentLogger } from './fakes';

/** Lets the writes to the shared store finish. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

function circuits() {
  const clock = { now: 1_000 };
  const changes: [string, boolean, boolean][] = [];
  const breaker = new Circuits(
    5_000,
    silentLogger,
    (handler, open, changed) => {
      changes.push([handler, open, changed]);
      return Promise.resolve(); // the shared store's write, done at once
    },
    () => clock.now,
  );
  return { breaker, clock, changes };
}

describe('Circuits, one per delivery handler', () => {
  it('is closed until a delivery finds the transport unreachable', () => {
    const { breaker } = circuits();

    expect(breaker.pass('line_allocated')).to.equal('closed');
  });

  it('once open, lets one probe through per interval and nothing else', () => {
    const { breaker, clock } = circuits();
    breaker.unreachable('line_allocated', new Error('ECONNREFUSED'), false);

    const before = breaker.pass('line_allocated');
    clock.now += 5_000;
    const due = [breaker.pass('line_allocated'), breaker.pass('line_allocated')];
    breaker.unreachable('line_allocated', new Error('ECONNREFUSED'), true);
    const afterProbe = breaker.pass('line_allocated');
    clock.now += 5_000;

    expect(before).to.equal('open');
    expect(due).to.deep.equal(['probe', 'open']);
    expect(afterProbe).to.equal('open');
    expect(breaker.pass('line_allocated')).to.equal('probe');
  });

  it('a failure of a delivery in flight when it opened does not put the next probe off', () => {
    const { breaker, clock } = circuits();
    breaker.unreachable('email', new Error('ESOCKET'), false);

    clock.now += 4_000;
    breaker.unreachable('email', new Error('ESOCKET'), false);
    clock.now += 1_000;

    expect(breaker.pass('email')).to.equal('probe');
  });

  it('leaves the names of shut handlers out of what the relay reads, except when a probe is due', () => {
    const { breaker, clock } = circuits();
    breaker.unreachable('line_allocated', new Error('Connection is closed.'), false);

    const shut = breaker.shut();
    clock.now += 5_000;

    expect(shut).to.deep.equal(['line_allocated']);
    expect(breaker.shut()).to.deep.equal([]);
  });

  it('reports each opening and closing once, and a first outcome as no change', () => {
    const { breaker, changes } = circuits();

    breaker.reachable('email');
    breaker.reachable('email');
    breaker.unreachable('line_allocated', new Error('ECONNRESET'), false);
    breaker.unreachable('line_allocated', new Error('ECONNRESET'), false);
    breaker.reachable('line_allocated');

    expect(changes).to.deep.equal([
      ['email', false, false],
      ['line_allocated', true, true],
      ['line_allocated', false, true],
    ]);
    expect(breaker.pass('line_allocated')).to.equal('closed');
  });
});

describe('Circuits shared between processes', () => {
  it('a relay taking over adopts a circuit another found open, and probes at once', () => {
    const { breaker, clock, changes } = circuits();

    breaker.adopt(new Set(['line_allocated']), clock.now);

    expect(breaker.pass('line_allocated')).to.equal('probe');
    expect(breaker.pass('line_allocated')).to.equal('open');
    expect(changes).to.deep.equal([['line_allocated', true, false]]);
  });

  it('a relay that no longer delivers stops showing a circuit another has closed', async () => {
    const { breaker, clock, changes } = circuits();
    breaker.unreachable('email', new Error('ESOCKET'), false);
    await settled();
    clock.now += 10_000;

    breaker.adopt(new Set(), clock.now);

    expect(breaker.pass('email')).to.equal('closed');
    expect(changes.at(-1)).to.deep.equal(['email', false, false]);
  });

  it('does not undo its own change with a state read before its write was done', async () => {
    const { breaker, clock } = circuits();
    breaker.unreachable('email', new Error('ESOCKET'), false);

    breaker.adopt(new Set(), clock.now + 5); // read while the write is under way
    await settled(); // the write is done, at clock.now
    breaker.adopt(new Set(), clock.now - 10); // read before it
    const kept = breaker.isOpen('email');
    breaker.adopt(new Set(), clock.now + 10); // read after it: closed by another process since

    expect(kept).to.equal(true);
    expect(breaker.isOpen('email')).to.equal(false);
  });
});
