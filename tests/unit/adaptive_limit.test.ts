import { expect } from 'chai';
import {
  ADAPTIVE_FLOOR,
  AdaptiveLimit,
  WINDOW_MS,
} from '../../src/allocation/entrypoints/http/adaptive_limit';

/** A limit on a clock the test moves by hand, one window at a time. */
function limitOf(ceiling: number, targetMs: number) {
  let now = 0;
  const limit = new AdaptiveLimit(ceiling, targetMs, () => now);
  return {
    limit,
    /** A window in which the limit is filled, one more is refused, and all complete in `ms`. */
    saturatedWindow: (ms: number) => {
      let admitted = 0;
      while (limit.tryEnter()) admitted++;
      for (let i = 0; i < admitted; i++) limit.leave(ms);
      now += WINDOW_MS;
    },
    /** A window is judged by the first completion after it; this one is fast and alone. */
    judgeWindow: () => {
      expect(limit.tryEnter()).to.equal(true);
      limit.leave(0);
      now += WINDOW_MS;
    },
  };
}

describe('adaptive admission limit', () => {
  it('admits up to the ceiling, then refuses', () => {
    const { limit } = limitOf(256, 250);

    const admitted = Array.from({ length: 300 }, () => limit.tryEnter()).filter(Boolean).length;

    expect(admitted).to.equal(256);
  });

  it('says whether there is room without taking it, and a full one counts as a refusal', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 250);
    for (let i = 0; i < 30; i++) saturatedWindow(400);
    judgeWindow();
    expect(limit.hasRoom()).to.equal(true);
    for (let i = 0; i < ADAPTIVE_FLOOR; i++) expect(limit.tryEnter()).to.equal(true);

    expect(limit.hasRoom()).to.equal(false); // refused at arrival: the window saw a refusal...
    for (let i = 0; i < ADAPTIVE_FLOOR; i++) limit.leave(10);
    judgeWindow();

    expect(limit.current).to.be.greaterThan(ADAPTIVE_FLOOR); // ...so the fast window grows it
  });

  it('shrinks while admitted requests are slow, never below the floor', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 250);

    saturatedWindow(400);
    judgeWindow();
    expect(limit.current).to.equal(Math.floor(256 * 0.8));

    for (let i = 0; i < 30; i++) saturatedWindow(400);
    judgeWindow();
    expect(limit.current).to.equal(ADAPTIVE_FLOOR);
  });

  it('grows back to the ceiling once requests are fast again and some were refused', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 250);
    for (let i = 0; i < 30; i++) saturatedWindow(400);
    judgeWindow();
    expect(limit.current).to.equal(ADAPTIVE_FLOOR);

    saturatedWindow(10);
    judgeWindow();
    expect(limit.current).to.be.greaterThan(ADAPTIVE_FLOOR);

    for (let i = 0; i < 60; i++) saturatedWindow(10);
    judgeWindow();
    expect(limit.current).to.equal(256);
  });

  it('does not grow while nothing is refused', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 250);
    saturatedWindow(400);
    judgeWindow();
    const lowered = limit.current;

    for (let i = 0; i < 10; i++) judgeWindow();

    expect(lowered).to.be.lessThan(256);
    expect(limit.current).to.equal(lowered);
  });

  it('tolerates a tenth of the requests being slow', () => {
    const { limit, judgeWindow } = limitOf(256, 250);
    for (let i = 0; i < 100; i++) limit.tryEnter();

    for (let i = 0; i < 10; i++) limit.leave(900);
    for (let i = 0; i < 90; i++) limit.leave(5);
    judgeWindow();
    judgeWindow();

    expect(limit.current).to.equal(256);
  });

  it('is not closed by a request that never finishes', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 250);
    saturatedWindow(400);
    judgeWindow();
    limit.tryEnter(); // stuck for good

    for (let i = 0; i < 30; i++) saturatedWindow(5);
    judgeWindow();

    expect(limit.current).to.equal(256);
    let admitted = 0;
    while (limit.tryEnter()) admitted++;
    expect(admitted).to.equal(255); // all it takes is its own place
  });

  it('stays fixed with a target of 0', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(256, 0);

    for (let i = 0; i < 10; i++) saturatedWindow(10_000);
    judgeWindow();

    expect(limit.current).to.equal(256);
  });

  it('keeps a ceiling below the floor as it is', () => {
    const { limit, saturatedWindow, judgeWindow } = limitOf(4, 250);

    for (let i = 0; i < 10; i++) saturatedWindow(10_000);
    judgeWindow();

    expect(limit.current).to.equal(4);
  });
});
