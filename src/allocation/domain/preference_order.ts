/**
 * Warehouse stock (no eta) first, then shipments by earliest eta; ref breaks ties, compared by
 * UTF-16 code unit (JavaScript's `<`). The one order of batches: views.ts sorts with it too.
 */
export function preferenceOrder(
  a: { reference: string; eta: string | null },
  b: { reference: string; eta: string | null },
): number {
  if (a.eta !== b.eta) {
    if (a.eta === null) return -1;
    if (b.eta === null) return 1;
    return a.eta < b.eta ? -1 : 1;
  }
  return a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0;
}
