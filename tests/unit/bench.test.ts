// The benchmark's pure parts: its flags, its reading of pgbench, its tables, taking turns and
// judging targets, and how the load generator files answers by connection (against a local
// server; only a lower bound on a delay is asserted). The benchmark itself runs only in
// `make bench`: no test depends on how fast anything is.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../bench/load';
import { parseArgs, SCENARIOS, UsageError } from '../../bench/cli';
import type { Measurement } from '../../bench/measure';
import { takeTurns } from '../../bench/measure';
import { parsePgbenchOutput } from '../../bench/pgbench';
import { table } from '../../bench/report';
import type { Results } from '../../bench/run';
import { evaluateTargets } from '../../bench/targets';

describe('bench flags', () => {
  it('default to every scenario with the yardsticks', () => {
    const options = parseArgs([]);

    expect([...options.only]).to.deep.equal([...SCENARIOS]);
    expect(options.yardstick).to.equal(true);
    expect(options.durationSeconds).to.equal(10);
    expect(options.bigChangeLines).to.equal(20_000);
    expect(options.overloadConnections).to.equal(2_000);
    expect(options.drainMessages).to.equal(100_000);
  });

  it('read values, lists and negations', () => {
    const argv = ['--only', 'spread,overload', '--spread', '4,8', '--duration', '5'];
    const options = parseArgs([...argv, '--no-yardstick', '--overload', '500', '--drain', '50']);

    expect([...options.only]).to.deep.equal(['spread', 'overload']);
    expect(options.spread).to.deep.equal([4, 8]);
    expect(options.durationSeconds).to.equal(5);
    expect(options.yardstick).to.equal(false);
    expect(options.overloadConnections).to.equal(500);
    expect(options.drainMessages).to.equal(50);
  });

  it('profile spread at c16 alone unless told otherwise', () => {
    const options = parseArgs(['--profile']);

    expect([...options.only]).to.deep.equal(['spread']);
    expect(options.spread).to.deep.equal([16]);
  });

  for (const argv of [
    ['--only', 'nope'],
    ['--duration', '0'],
    ['--spread', '4,x'],
    ['--unknown'],
    ['--duration'],
  ]) {
    it(`refuse ${argv.join(' ')}`, () => {
      expect(() => parseArgs(argv)).to.throw(UsageError);
    });
  }

  it('answer --help with the usage (an empty message)', () => {
    expect(() => parseArgs(['--help'])).to.throw(UsageError, /^$/);
  });
});

describe('pgbench output', () => {
  it('gives tps and the transactions done and failed', () => {
    const result = parsePgbenchOutput(
      [
        'number of transactions actually processed: 38790',
        'number of failed transactions: 0 (0.000%)',
        'latency average = 4.123 ms',
        'tps = 3879.012345 (without initial connection time)',
      ].join('\n'),
    );

    expect(result).to.deep.equal({ tps: 3879.012345, processed: 38790, failed: 0 });
  });

  it('refuses output without tps', () => {
    expect(() => parsePgbenchOutput('connection to server failed')).to.throw(/could not read tps/);
  });
});

describe('bench tables', () => {
  it('pad columns, numbers to the right', () => {
    const text = table(
      ['run', 'per s'],
      [
        ['spread', '1518'],
        ['hot', '589'],
      ],
    );

    expect(text.split('\n')).to.deep.equal([
      '| run    | per s |',
      '| ------ | ----: |',
      '| spread |  1518 |',
      '| hot    |   589 |',
    ]);
  });
});

/** A measurement with nothing but a throughput and a p50. */
function measured(throughput: number, p50 = 1): Measurement {
  const latency = { count: 1, p50, p99: p50, max: p50 };
  const load = { concurrency: 1, seconds: 1, requests: throughput, throughput, latency };
  const rest = { latency2xx: latency, statuses: {}, non2xx: 0, errors: 0 };
  return { scenario: 's', concurrency: 1, load: { ...load, ...rest } };
}

describe('taking turns', () => {
  it('alternates which side goes first and keeps the median round', async () => {
    const order: string[] = [];
    const ours = [100, 300, 200];
    const theirs = [100, 100, 100];
    const turns = await takeTurns(
      async () => (order.push('a'), measured(ours[order.filter((o) => o === 'a').length - 1])),
      async () => (order.push('b'), measured(theirs[order.filter((o) => o === 'b').length - 1])),
      (a, b) => a.load.throughput / b.load.throughput,
    );

    expect(order).to.deep.equal(['a', 'b', 'b', 'a', 'a', 'b']);
    expect(turns.ratios).to.deep.equal([1, 3, 2]);
    expect(turns.ratio).to.equal(2);
    expect(turns.a.load.throughput).to.equal(200);
  });
});

describe('bench targets', () => {
  const results = (minimal: Results['minimal']): Results => ({
    spread: [],
    hot: [],
    minimal,
    serviceLog: [],
  });
  const allocations = (ratio: number) => ({
    server: 'koa_allocate' as const,
    ours: measured(100 * ratio),
    theirs: measured(100),
    ratio,
    ratios: [ratio, ratio, ratio],
  });
  const versusMinimal = (r: Results) =>
    evaluateTargets(r).find((t) => t.name.startsWith('POST /allocate vs'));

  it('judge ours beside the minimal allocation server', () => {
    expect(versusMinimal(results([allocations(1.1)]))).to.include({ met: false });
    expect(versusMinimal(results([allocations(1.1)]))?.measured).to.match(
      /110 vs 100 req\/s = 1\.10 x/,
    );
    expect(versusMinimal(results([allocations(1.3)]))).to.include({ met: true });
  });

  it('report a target not run as not measured', () => {
    const target = versusMinimal(results([]));

    expect(target?.measured).to.equal('not run');
    expect(target?.met).to.equal(undefined);
  });

  const drained = (service: number, minimal: number): Results['drain'] => {
    const side = (perSecond: number) => ({
      perSecond,
      seconds: 10,
      pickupSeconds: 0.5,
      cpu: { seconds: 10, serviceMs: 100, postgresMs: 100, benchMs: 100, otherMs: 0 },
    });
    return { messages: 1000, skus: 10, service: side(service), minimal: side(minimal) };
  };
  const drainTarget = (drain: Results['drain']) =>
    evaluateTargets({ ...results([]), drain }).find((t) => t.name.startsWith('relay drain'));

  it('judge the relay drain against the minimal loop', () => {
    expect(drainTarget(drained(900, 1000))).to.include({ met: false });
    expect(drainTarget(drained(900, 1000))?.measured).to.match(/900 vs 1000 msg\/s = 0\.90 x/);
    expect(drainTarget(drained(1100, 1000))).to.include({ met: true });
  });
});

describe('load generator answers by connection', () => {
  const FIRST_DELAY_MS = 300;
  let server: http.Server;
  before(async () => {
    // each connection's first request waits, as one does for a busy server to accept it
    server = http.createServer((req, res) => {
      const socket = req.socket as { answered?: boolean };
      const delay = socket.answered ? 0 : FIRST_DELAY_MS;
      socket.answered = true;
      setTimeout(() => res.end('{}'), delay);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("keep each connection's first answer apart from the admitted latency", async () => {
    const { port } = server.address() as AddressInfo;
    const load = await runLoad({
      origin: { host: '127.0.0.1', port },
      concurrency: 4,
      warmupMs: 0,
      durationMs: 0,
      amount: 40,
      next: { method: 'GET', path: '/' },
    });

    const { firstAnswer, latency2xxAfterFirst } = load.byConnection;
    expect(load.latency2xx.count).to.equal(40);
    expect(firstAnswer.count).to.equal(4);
    expect(latency2xxAfterFirst.count).to.equal(36);
    expect(firstAnswer.p50).to.be.at.least(FIRST_DELAY_MS);
    expect(load.latency2xx.max).to.be.at.least(FIRST_DELAY_MS);
  });
});
