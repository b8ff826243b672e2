// The pub/sub consumer's in-memory queue: first in, first out, never past either bound.
import { expect } from 'chai';
import { BoundedQueue, received } from '../../src/allocation/entrypoints/redis/pubsub_queue';
import { KEPT_BYTES, MAX_MESSAGE_BYTES } from '../../src/allocation/entrypoints/redis/inbound';

const message = (text: string) => received(Buffer.from(text), 0);

describe('BoundedQueue', () => {
  it('refuses the message that would exceed the count, and keeps the order', () => {
    const queue = new BoundedQueue({ messages: 3, bytes: 1_000 });
    const offered = ['a', 'b', 'c', 'd'].map((text) => queue.offer(message(text)));

    expect(offered).to.deep.equal([true, true, true, false]);
    expect(queue.shift()?.payload.toString()).to.equal('a');
    expect(queue.offer(message('e'))).to.equal(true);
    expect(queue.takeAll().map((item) => item.payload.toString())).to.deep.equal(['b', 'c', 'e']);
    expect(queue.length).to.equal(0);
  });

  it('refuses the message that would exceed the bytes, and reports the peaks', () => {
    const queue = new BoundedQueue({ messages: 100, bytes: 10 });

    expect(queue.offer(message('123456'))).to.equal(true);
    expect(queue.offer(message('12345'))).to.equal(false);
    expect(queue.offer(message('1234'))).to.equal(true);
    queue.shift();
    expect(queue.stats()).to.deep.equal({ messages: 1, bytes: 4, peakMessages: 2, peakBytes: 10 });
  });

  it('keeps only the first KiB of a message over the size limit, and its size', () => {
    const item = received(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 'x'));

    expect(item.payload.length).to.equal(KEPT_BYTES);
    expect(item.size).to.equal(MAX_MESSAGE_BYTES + 1);
  });

  it('stays in order across many pushes and shifts (compaction)', () => {
    const queue = new BoundedQueue({ messages: 5_000, bytes: 1_000_000 });
    const seen: string[] = [];
    for (let i = 0; i < 4_000; i++) {
      expect(queue.offer(message(String(i)))).to.equal(true);
      if (i % 2 === 1) seen.push(queue.shift()!.payload.toString());
    }
    seen.push(...queue.takeAll().map((item) => item.payload.toString()));
    expect(seen).to.deep.equal(Array.from({ length: 4_000 }, (_, i) => String(i)));
  });
});
