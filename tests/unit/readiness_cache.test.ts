// SPEC section 10: /readyz answers within a bound under any load. Its check runs at most once
// per READINESS_MAX_AGE_MS and never twice at once, however many probes arrive.
import { expect } from 'chai';
import { cachedReadiness } from '../../src/allocation/entrypoints/http/readiness';

describe('cached readiness', () => {
  /** A check that answers only when the test says so, counting how often it was started. */
  function controlledCheck() {
    const started: ((checks: Record<string, string | undefined>) => void)[] = [];
    const check = () =>
      new Promise<Record<string, string | undefined>>((resolve) => started.push(resolve));
    return { check, started };
  }

  it('runs one check for every caller that arrives while it runs', async () => {
    const { check, started } = controlledCheck();
    const ready = cachedReadiness(check, 1_000, () => 0);

    const answers = Promise.all(Array.from({ length: 50 }, () => ready()));
    expect(started).to.have.length(1);
    started[0]({ postgres: undefined });

    expect(await answers).to.have.length(50);
    expect(started).to.have.length(1);
  });

  it('answers from the last check until it is older than the bound, then checks again', async () => {
    const { check, started } = controlledCheck();
    let now = 0;
    const ready = cachedReadiness(check, 1_000, () => now);
    const first = ready();
    started[0]({ postgres: undefined });
    await first;

    now = 999;
    expect(await ready()).to.deep.equal({ postgres: undefined });
    expect(started).to.have.length(1);

    now = 1_000;
    const second = ready();
    expect(started).to.have.length(2);
    started[1]({ postgres: 'unreachable' });
    expect(await second).to.deep.equal({ postgres: 'unreachable' });
  });
});
