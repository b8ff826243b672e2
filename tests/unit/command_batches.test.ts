import { expect } from 'chai';
import { Allocate } from '../../src/allocation/domain/commands';
import {
  type BatchedCommand,
  CommandBatches,
} from '../../src/allocation/service_layer/command_batches';
import { Unavailable } from '../../src/allocation/service_layer/errors';

const definition: BatchedCommand = {
  key: (cmd: Allocate) => cmd.sku,
  idOf: (cmd: Allocate) => cmd.orderid,
  commandOf: () => undefined,
  max: 32,
};

describe('command batches', () => {
  it('runs a lone command at once, then what queued behind it, at most max per unit, in order', async () => {
    const units: string[][] = [];
    const batches = new CommandBatches(definition, async (batch) => {
      units.push(batch.map((w) => (w.command as Allocate).orderid));
      await new Promise((resolve) => setImmediate(resolve));
      return batch.map((w) => `ref-for-${(w.command as Allocate).orderid}`);
    });
    const orderids = Array.from({ length: 70 }, (_, i) => `o${i}`);
    const answers = await Promise.all([
      ...orderids.map((o) => batches.submit(new Allocate(o, 'hot', 1), {})),
      batches.submit(new Allocate('elsewhere', 'other', 1), {}),
    ]);

    expect(answers).to.deep.equal([...orderids, 'elsewhere'].map((o) => `ref-for-${o}`));
    expect(units.map((u) => u.length)).to.deep.equal([1, 1, 32, 32, 5]);
    expect(units.flat().filter((o) => o !== 'elsewhere')).to.deep.equal(orderids);
  });

  it('a failed unit fails its own commands only', async () => {
    let n = 0;
    const batches = new CommandBatches(definition, async (batch) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (++n === 2) throw new Error('lost');
      return batch.map(() => 'ok');
    });
    const results = await Promise.allSettled(
      ['a', 'b', 'c'].map((o) => batches.submit(new Allocate(o, 'hot', 1), {})),
    );
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'rejected']);
    // the sku is free again afterwards
    expect(await batches.submit(new Allocate('d', 'hot', 1), {})).to.equal('ok');
  });

  it('answers Unavailable to a command that waited past its bound, and runs the next', async () => {
    // the first unit takes 50 ms at least; the bound is 10 ms
    const batches = new CommandBatches(
      definition,
      async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return batch.map(() => 'ok');
      },
      10,
    );
    const results = await Promise.allSettled(
      ['a', 'b', 'c'].map((o) => batches.submit(new Allocate(o, 'hot', 1), {})),
    );
    expect(results[0]).to.deep.equal({ status: 'fulfilled', value: 'ok' });
    for (const r of results.slice(1)) {
      expect((r as PromiseRejectedResult).reason).to.be.instanceOf(Unavailable);
    }
    expect(await batches.submit(new Allocate('d', 'hot', 1), {})).to.equal('ok');
  });
});
