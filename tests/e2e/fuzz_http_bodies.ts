// Generators (fast-check arbitraries) of HTTP request bodies for /allocate and /add_batch,
// mostly malformed, biased towards what a careless client sends.
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import {
  BAD_DATES,
  BAD_QTIES,
  isValidBody,
  KEYS,
  WEIRD_NUMBERS,
  WEIRD_STRINGS,
  type Route,
} from './fuzz_inputs';

export interface HttpCase {
  route: Route;
  /** The family of input, for the report. */
  kind: string;
  body: Buffer;
  headers: Record<string, string>;
  /** What the SPEC accepts: only these may get a 2xx. */
  valid: boolean;
}

/** Valid-looking bodies use these skus, stocked before the fuzzing starts (stockedSku). */
export const STOCKED_SKUS = 10;
export const stockedSku = (seed: number, k: number): string => `fuzz-sku-${seed}-${k}`;

function preview(buffer: Buffer): string {
  const text = JSON.stringify(buffer.toString('utf8'));
  return text.length > 90 ? `${text.slice(0, 90)}...(${buffer.length} bytes)` : text;
}

/** A case prints as its route, kind, headers and the start of its body in fast-check's report. */
function httpCase(c: Omit<HttpCase, 'valid'>, valid: boolean): HttpCase {
  const described = { ...c, valid };
  Object.defineProperty(described, fc.toStringMethod, {
    value: () => `${c.route} [${c.kind}] ${JSON.stringify(c.headers)} ${preview(c.body)}`,
  });
  return described;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export function jsonCase(route: Route, kind: string, value: unknown): HttpCase {
  const body = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
  const valid = isValidBody(route, JSON.parse(body.toString('utf8')));
  return httpCase({ route, kind, body, headers: JSON_HEADERS }, valid);
}

function rawCase(route: Route, kind: string, text: string | Buffer): HttpCase {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let valid: boolean;
  try {
    valid = isValidBody(route, JSON.parse(body.toString('utf8')));
  } catch {
    valid = false; // not JSON at all
  }
  return httpCase({ route, kind, body, headers: JSON_HEADERS }, valid);
}

const weirdString = fc.oneof(
  fc.constantFrom(...WEIRD_STRINGS),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const oddLength = fc.oneof(
  fc.constant(''),
  fc.integer({ min: 256, max: 3000 }).map((n) => 'x'.repeat(n)),
);

/** Any JSON value, biased towards the shapes and leaves a careless client sends. */
const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...WEIRD_NUMBERS),
    weirdString,
    fc.constantFrom(true, false, null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const nameFields = (route: Route) => (route === '/allocate' ? ['orderid', 'sku'] : ['ref', 'sku']);
const allFields = (route: Route) => [
  ...nameFields(route),
  'qty',
  ...(route === '/add_batch' ? ['eta'] : []),
];

/** A valid body for the route, on one of the stocked skus. */
function validBody(route: Route, seed: number): fc.Arbitrary<Record<string, unknown>> {
  const sku = fc.integer({ min: 0, max: STOCKED_SKUS - 1 }).map((k) => stockedSku(seed, k));
  const qty = fc.integer({ min: 1, max: 20 });
  const id = fc.stringMatching(/^[a-z0-9]{1,12}$/);
  if (route === '/allocate') {
    return fc.record({ orderid: id.map((s) => `fuzz-order-${s}`), sku, qty });
  }
  const eta = fc.constantFrom(null, '2026-12-24');
  return fc.record({ ref: id.map((s) => `fuzz-batch-${s}`), sku, qty, eta });
}

/** One change that usually breaks a valid body (a renamed or extra key may not). */
type Mutation = (body: Record<string, unknown>) => void;

function mutation(route: Route): fc.Arbitrary<Mutation> {
  const field = fc.constantFrom(...allFields(route));
  const named = (fn: Mutation, label: string): Mutation =>
    Object.assign(fn, { [fc.toStringMethod]: () => label });
  return fc.oneof(
    field.map((f) => named((b) => delete b[f], `delete ${f}`)),
    fc
      .tuple(field, jsonValue)
      .map(([f, v]) => named((b) => (b[f] = v), `${f} = ${fc.stringify(v)}`)),
    fc.constantFrom(...BAD_QTIES).map((q) => named((b) => (b.qty = q), `qty = ${fc.stringify(q)}`)),
    fc
      .tuple(fc.constantFrom(...nameFields(route)), oddLength)
      .map(([f, v]) => named((b) => (b[f] = v), `${f} of length ${v.length}`)),
    ...(route === '/add_batch'
      ? [
          fc
            .constantFrom(...BAD_DATES)
            .map((d) => named((b) => (b.eta = d), `eta = ${fc.stringify(d)}`)),
        ]
      : []),
    fc.tuple(field, fc.constantFrom('Qty', 'SKU', 'order_id', 'reference')).map(([f, to]) =>
      named((b) => {
        b[to] = b[f];
        delete b[f];
      }, `rename ${f} to ${to}`),
    ),
    fc
      .tuple(fc.constantFrom(...KEYS), jsonValue)
      .map(([k, v]) => named((b) => (b[k] = v), `${k} = ${fc.stringify(v)}`)),
  );
}

const INVALID_JSON: ((json: string) => fc.Arbitrary<string | Buffer>)[] = [
  (json) => fc.integer({ min: 1, max: json.length - 1 }).map((n) => json.slice(0, n)), // truncated
  (json) => fc.constant(json.replace('}', ',}')), // trailing comma
  (json) => fc.constant(json.replace(/"/g, "'")), // single quotes
  (json) => fc.constant(json.replace(/"(\w+)":/g, '$1:')), // unquoted keys
  (json) =>
    fc
      .constantFrom('NaN', 'Infinity', '1e999', '-1e999', '0x10', '+1', '01', '--1', '1.', '.5')
      .map((q) => json.replace(/"qty":\d+/, `"qty":${q}`)),
  (json) => fc.constantFrom('}', ']', ',', 'x', '{}').map((tail) => `${json}${tail}`), // garbage
  (json) => fc.constant(`// comment\n${json}`),
  () => fc.string({ minLength: 1, maxLength: 200 }),
  () =>
    fc.constantFrom('undefined', 'NaN', '{', '[', '"', '{"a"', '\u0000', '\ufeff{}', 'nul', 'tru'),
  (json) => fc.constant(Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(json)])),
];

const NON_JSON_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'text/html',
  undefined, // no content type at all
];

/** One request body for `route`: mostly malformed, now and then valid by chance. */
export function httpCases(route: Route, seed: number): fc.Arbitrary<HttpCase> {
  const valid = validBody(route, seed);
  return fc.oneof(
    { arbitrary: jsonValue.map((v) => jsonCase(route, 'random JSON value', v)), weight: 15 },
    {
      arbitrary: fc
        .tuple(valid, fc.array(mutation(route), { minLength: 1, maxLength: 3 }))
        .map(([body, changes]) => {
          const changed = { ...body };
          for (const change of changes) change(changed);
          return jsonCase(route, 'wrong fields', changed);
        }),
      weight: 35,
    },
    {
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...nameFields(route)), weirdString, fc.boolean())
        .map(([body, f, odd, keep]) =>
          jsonCase(route, 'unicode and odd strings', {
            ...body,
            [f]: `${odd}${keep ? String(body[f]) : ''}`,
          }),
        ),
      weight: 10,
    },
    {
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...INVALID_JSON))
        .chain(([body, breakIt]) => breakIt(JSON.stringify(body)))
        .map((text) => rawCase(route, 'invalid JSON text', text)),
      weight: 15,
    },
    {
      arbitrary: fc.tuple(valid, fc.constantFrom(...NON_JSON_TYPES)).map(([body, type]) => {
        const text =
          type === 'application/x-www-form-urlencoded'
            ? new URLSearchParams(
                Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]),
              ).toString()
            : JSON.stringify(body);
        const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
        return httpCase(
          { route, kind: 'wrong content type', body: Buffer.from(text), headers },
          false,
        );
      }),
      weight: 8,
    },
    {
      arbitrary: fc
        .tuple(
          valid,
          fc.constantFrom('gzip', 'deflate', 'br'),
          fc.option(fc.string({ minLength: 1, maxLength: 100 })),
          fc.nat(),
        )
        .map(([body, encoding, text, cut]) => {
          const zipped = gzipSync(JSON.stringify(body));
          // random text, or gzip truncated (or sent as deflate or br)
          const sent =
            text !== null ? Buffer.from(text) : zipped.subarray(0, 1 + (cut % (zipped.length - 1)));
          const headers = { ...JSON_HEADERS, 'content-encoding': encoding };
          return httpCase({ route, kind: 'corrupt content encoding', body: sent, headers }, false);
        }),
      weight: 5,
    },
    {
      arbitrary: fc.tuple(valid, fc.integer({ min: 17_000, max: 40_000 })).map(([body, n]) => {
        const big = jsonCase(route, 'over 16 kB', { ...body, padding: 'p'.repeat(n) });
        return httpCase(big, false);
      }),
      weight: 4,
    },
    {
      arbitrary: fc
        .tuple(fc.integer({ min: 500, max: 4000 }), fc.constantFrom(['[', ']'], ['{"a":', '}']))
        .map(([depth, [open, close]]) =>
          rawCase(route, 'deeply nested', `${open.repeat(depth)}1${close.repeat(depth)}`),
        ),
      weight: 3,
    },
    {
      arbitrary: fc
        .constantFrom('', ' ', '\n', '\t\r\n')
        .map((t) => rawCase(route, 'empty body', t)),
      weight: 5,
    },
  );
}

/**
 * Every edge value of the lists above once, in an otherwise valid body, so each is tried
 * whatever the random draw picks (fast-check runs them first, as examples).
 */
export function edgeCases(route: Route, seed: number): HttpCase[] {
  const sku = stockedSku(seed, 0);
  const base = (n: number): Record<string, unknown> =>
    route === '/allocate'
      ? { orderid: `fuzz-corpus-${seed}-${n}`, sku, qty: 1 }
      : { ref: `fuzz-corpus-${seed}-${n}`, sku, qty: 1, eta: null };
  const bodies: Record<string, unknown>[] = [];
  for (const qty of BAD_QTIES) bodies.push({ ...base(bodies.length), qty });
  if (route === '/add_batch') {
    for (const eta of BAD_DATES) bodies.push({ ...base(bodies.length), eta });
  }
  for (const name of nameFields(route)) {
    for (const odd of WEIRD_STRINGS) bodies.push({ ...base(bodies.length), [name]: odd });
  }
  return bodies.map((body) => jsonCase(route, 'edge values', body));
}
