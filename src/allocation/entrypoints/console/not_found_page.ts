import { html, type Html } from './html';

/** What a search or a shared link that matches nothing shows: what to try next. */
export function notFoundPage(kind: 'product' | 'order' | 'search', value: string): Html {
  const why = {
    product: html`No product <code>${value}</code>. A product exists once a batch of it has been
      added with <code>POST /add_batch</code>.`,
    order: html`No allocations and no history for order <code>${value}</code>. An order shows here
      once one of its lines has been allocated or found no stock (history is kept for
      HISTORY_RETENTION).`,
    search: html`Neither a sku nor an order id matches <code>${value}</code>.`,
  }[kind];
  return html`<div class="empty">
    <p>${why}</p>
    <p>Check the spelling (both are case-sensitive), or search again with the box at the top.</p>
  </div>`;
}
