// Generators (fast-check arbitraries) of `change_batch_quantity` messages that must all be set
// aside: not JSON, not UTF-8, the wrong shape, a bad quantity, or an unknown batch. Each carries
// TAG, which the test replaces by a tag of its own, so its dead letter can be found among
// everyone's.
import fc from 'fast-check';
import { MAX_INT, WEIRD_STRINGS } from './fuzz_inputs';

export const TAG = '@TAG@';

export interface PoisonMessage {
  kind: string;
  /** The text sent, with TAG in it. */
  text: string;
  /** Sent after bytes that are not UTF-8. */
  notUtf8: boolean;
}

const UNKNOWN = `unknown-${TAG}`;
const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28]);

/** The bytes to publish for `message`, with `tag` in place of TAG. */
export function payloadOf(message: PoisonMessage, tag: string): string | Buffer {
  const text = message.text.replaceAll(TAG, tag);
  return message.notUtf8 ? Buffer.concat([NOT_UTF8, Buffer.from(text)]) : text;
}

const message =
  (kind: string, notUtf8 = false) =>
  (text: string) => ({ kind, text, notUtf8 });
const json = (kind: string) => (value: unknown) => message(kind)(JSON.stringify(value));
const valid = JSON.stringify({ batchref: UNKNOWN, qty: 1 });

const notJson = fc.oneof(
  fc.string({ maxLength: 40 }).map((t) => `${t} ${TAG}`),
  fc.integer({ min: 5, max: 20 }).map((n) => valid.slice(0, n) + TAG), // truncated
  fc.constant(`{'batchref': '${UNKNOWN}', 'qty': 1}`),
  fc.constant(`{batchref: "${UNKNOWN}", qty: 1}`),
  fc
    .constantFrom('NaN', 'Infinity', '0x10', '+1', '01')
    .map((q) => `{"batchref": "${UNKNOWN}", "qty": ${q}}`),
  fc.constantFrom('}', ',', 'x').map((tail) => `${valid}${tail}`),
  fc.constant(TAG),
);

const wrongShape = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => [TAG, v]),
  fc.constant(TAG),
  fc.constant({ tag: TAG }),
  fc.constant({ batchref: UNKNOWN }),
  fc.integer({ min: 0, max: 100 }).map((qty) => ({ qty, tag: TAG })),
  fc
    .constantFrom(42, null, true, [], {}, [UNKNOWN])
    .map((batchref) => ({ batchref, qty: 1, tag: TAG })),
  fc.constantFrom(null, true, '5', [], {}, [5]).map((qty) => ({ batchref: UNKNOWN, qty })),
  fc.constant({ data: { batchref: UNKNOWN, qty: 1 } }),
  fc.constant({ batchref: '', qty: 1, tag: TAG }),
  fc.integer({ min: 256, max: 2000 }).map((n) => ({ batchref: `${'x'.repeat(n)}${TAG}`, qty: 1 })),
);

const badQty = fc
  .constantFrom(-1, -100, 1.5, 0.001, -0.5, 2 ** 31, 2 ** 53, 1e300, -MAX_INT)
  .map((qty) => ({ batchref: UNKNOWN, qty }));

const unknownBatch = fc
  .tuple(fc.option(fc.constantFrom(...WEIRD_STRINGS)), fc.integer({ min: 0, max: 1000 }))
  .map(([prefix, qty]) => ({ batchref: `${prefix ?? ''}${UNKNOWN}`, qty }));

export const poisonMessages: fc.Arbitrary<PoisonMessage> = fc.oneof(
  { arbitrary: notJson.map(message('not JSON')), weight: 20 },
  { arbitrary: fc.constant(message('NUL byte')(`\u0000${TAG}\u0000`)), weight: 2 },
  { arbitrary: fc.constant(message('invalid UTF-8', true)(TAG)), weight: 3 },
  { arbitrary: wrongShape.map(json('wrong shape')), weight: 20 },
  { arbitrary: badQty.map(json('bad qty')), weight: 20 },
  { arbitrary: unknownBatch.map(json('unknown batch')), weight: 35 },
);
