// What the fuzz tests send and what the SPEC accepts: edge values a careless client sends, and
// the SPEC's validation rules restated, so the tests do not trust the service's own schemas.
export type Route = '/allocate' | '/add_batch';

export const MAX_INT = 2 ** 31 - 1;

export const WEIRD_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  '0',
  '-1',
  '1.5',
  'NaN',
  'Infinity',
  '1e999',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff-lone',
  '\u202eRTL',
  'e\u0301',
  '😀'.repeat(8),
  'ß𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\n\t\r',
  "'; DROP TABLE batches; --",
  '<script>alert(1)</script>',
  '%00',
  '\\',
  '"',
];
export const WEIRD_NUMBERS = [
  0,
  -1,
  1.5,
  -0.5,
  0.1,
  2 ** 31,
  2 ** 53,
  1e308,
  -1e308,
  -MAX_INT,
  42,
  7,
];
export const KEYS = [
  'orderid',
  'sku',
  'qty',
  'ref',
  'eta',
  'batchref',
  'Qty',
  'SKU',
  'extra',
  '',
  '__x',
];
export const BAD_QTIES: unknown[] = [
  0,
  -1,
  -100,
  1.5,
  0.001,
  2 ** 31,
  2 ** 53,
  1e308,
  -MAX_INT,
  '1',
  '10',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  null,
  true,
  [],
  {},
  [1],
];
export const BAD_DATES: unknown[] = [
  '2026-02-30',
  '2026-02-29',
  '2100-02-29',
  '2026-13-01',
  '2026-00-10',
  '2026-04-31',
  '2026-01-00',
  '0000-01-01',
  '2026-1-1',
  '26-01-01',
  '2026/01/01',
  '2026-01-01T00:00:00Z',
  ' 2026-01-01',
  '2026-01-01 ',
  '9999-99-99',
  'tomorrow',
  '',
  20_260_101,
  true,
  [],
  {},
];

// The SPEC's rules.
const isName = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= 255;
const isQty = (v: unknown) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_INT;

function isCalendarDate(v: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  // There is no year 0 in the calendar (1 BC is followed by AD 1).
  return year >= 1 && days !== undefined && day >= 1 && day <= days;
}

export function isValidBody(route: Route, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const body = value as Record<string, unknown>;
  if (route === '/allocate') return isName(body.orderid) && isName(body.sku) && isQty(body.qty);
  const eta = body.eta;
  const etaOk =
    eta === undefined || eta === null || (typeof eta === 'string' && isCalendarDate(eta));
  return isName(body.ref) && isName(body.sku) && isQty(body.qty) && etaOk;
}
