import type { ProductStock } from '../../views';
import { count, date, html, type Html } from './html';
import { table } from './layout';

type BatchStock = ProductStock['batches'][number];

/** The product's stock per batch, then its timeline (history_section.ts). */
export function productPage(product: ProductStock, timeline: Html): Html {
  return html`${stockOf(product)} ${timeline}`;
}

function stockOf(product: ProductStock): Html {
  const total = (field: 'purchased' | 'allocated' | 'available') =>
    product.batches.reduce((sum, batch) => sum + batch[field], 0);
  const summary = html`<div class="cards">
    ${card('Available', total('available'))} ${card('Allocated', total('allocated'))}
    ${card('Purchased', total('purchased'))} ${card('Batches', product.batches.length)}
  </div>`;
  if (product.batches.length === 0) {
    return html`${summary}
      <p class="empty">
        This product has no batches yet. Add one with <code>POST /add_batch</code>; its stock then
        shows here.
      </p>`;
  }
  return html`${summary}
    <h2>Batches</h2>
    <p class="muted">
      In the order allocation takes them: warehouse stock first, then the earliest ETA.
    </p>
    ${table(
      'Batches',
      html`<th scope="col">Batch</th>
        <th scope="col">ETA</th>
        <th scope="col" class="num">Purchased</th>
        <th scope="col" class="num">Allocated</th>
        <th scope="col" class="num">Available</th>
        <th scope="col">Allocated share</th>`,
      product.batches.map(batchRow),
    )}`;
}

function card(label: string, value: number): Html {
  return html`<div class="card">
    <div class="muted">${label}</div>
    <div class="value">${count(value)}</div>
  </div>`;
}

function batchRow(batch: BatchStock): Html {
  const share = batch.purchased === 0 ? 0 : (100 * batch.allocated) / batch.purchased;
  return html`<tr id="batch-${batch.ref}" data-batch="${batch.ref}">
    <th scope="row" class="nowrap"><code>${batch.ref}</code></th>
    <td>${date(batch.eta)}</td>
    <td class="num" data-field="purchased">${count(batch.purchased)}</td>
    <td class="num" data-field="allocated">${count(batch.allocated)}</td>
    <td class="num" data-field="available">${count(batch.available)}</td>
    <td>${bar(share)}</td>
  </tr>`;
}

/** An SVG bar: its width is an attribute, so the strict Content-Security-Policy needs no inline style. */
function bar(percent: number): Html {
  return html`<svg
    class="bar"
    viewBox="0 0 100 10"
    preserveAspectRatio="none"
    role="img"
    aria-label="${Math.round(percent)}% allocated"
  >
    <rect class="track" width="100" height="10" />
    <rect class="fill" width="${percent.toFixed(1)}" height="10" />
  </svg>`;
}
