// Random refs let tests share one database without ordering or teardown.
import { randomBytes } from 'node:crypto';

function suffix(): string {
  return randomBytes(4).toString('hex');
}

export const randomSku = (name = ''): string => `sku-${name}-${suffix()}`;
export const randomBatchref = (name = ''): string => `batch-${name}-${suffix()}`;
export const randomOrderid = (name = ''): string => `order-${name}-${suffix()}`;
