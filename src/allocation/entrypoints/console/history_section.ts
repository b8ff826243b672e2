// An order's story and a product's timeline on the console (SPEC section 3, "History"): newest
// first, a page at a time, each entry linking to its cause where the console has a page for it
// (a replayed dead letter); a request or message id is shown to search the logs with.
import type pg from 'pg';
import type { Cause } from '../../service_layer/history';
import {
  orderHistory,
  productHistory,
  type HistoryEntry,
  type ProductHistoryEntry,
} from '../../history_views';
import { HistoryBefore } from '../http/history_schemas';
import { html, pathPart, time, type Html } from './html';
import { table } from './layout';

const TYPE_TAGS: Record<HistoryEntry['type'], [label: string, tone: string]> = {
  allocated: ['allocated', 'ok'],
  deallocated: ['deallocated', 'warn'],
  out_of_stock: ['out of stock', 'bad'],
  batch_created: ['batch created', ''],
  quantity_changed: ['quantity changed', ''],
};

/** The section: a table of entries, newest first, and a link to the older ones if any. */
export function historySection(
  entries: (HistoryEntry | ProductHistoryEntry)[],
  options: { sku: string | undefined; olderHref: string | undefined },
): Html {
  const intro = html`<h2>History</h2>
    <p class="muted">
      Newest first. Each change with the product version it made and what caused it: the HTTP
      request (<code>X-Request-Id</code>), the inbound message (<code>message_id</code>) or the dead
      letter replayed.
    </p>`;
  if (entries.length === 0) {
    return html`${intro}
      <p class="empty">No history (kept for HISTORY_RETENTION, 90 days by default).</p>`;
  }
  const heads = html`<th scope="col">When</th>
    <th scope="col">What</th>
    ${options.sku === undefined ? html`<th scope="col">Sku</th>` : html`<th scope="col">Order</th>`}
    <th scope="col">Batch</th>
    <th scope="col" class="num">Qty</th>
    <th scope="col" class="num">Version</th>
    <th scope="col">Cause</th>`;
  return html`${intro}
  ${table(
    'History',
    heads,
    entries.map((e) => row(e, options.sku)),
  )}
  ${
    options.olderHref === undefined
      ? ''
      : html`<p><a href="${options.olderHref}" rel="next">Older entries</a></p>`
  }`;
}

function row(entry: HistoryEntry | ProductHistoryEntry, sku: string | undefined): Html {
  const [label, tone] = TYPE_TAGS[entry.type];
  const orderid = 'orderid' in entry ? entry.orderid : null;
  const who =
    sku === undefined
      ? html`<a href="/console/products/${pathPart(entry.sku)}"><code>${entry.sku}</code></a>`
      : orderid === null
        ? ''
        : html`<a href="/console/orders/${pathPart(orderid)}"><code>${orderid}</code></a>`;
  const change =
    'from' in entry && entry.from !== undefined ? html` ${entry.from} &rarr; ${entry.to}` : '';
  return html`<tr data-type="${entry.type}">
    <td class="nowrap">${time(entry.at)}</td>
    <td><span class="tag ${tone}">${label}</span>${change}</td>
    <td>${who}</td>
    <td>${entry.batchref === null ? '' : html`<code>${entry.batchref}</code>`}</td>
    <td class="num">${entry.qty ?? ''}</td>
    <td class="num">${entry.version}</td>
    <td>${cause(entry.cause)}</td>
  </tr>`;
}

function cause(of: Cause | null): Html {
  if (of === null) return html`<span class="muted">unknown</span>`;
  if (of.kind === 'replay') {
    return html`<a href="/console/dead_letters/${pathPart(of.id)}">dead letter ${of.id}</a>`;
  }
  const label = of.kind === 'http' ? 'request' : 'message';
  return html`${label} <code>${of.id}</code>`;
}

const PAGE = 50;

/** A product's timeline from `before` (the page the "Older entries" link asked for). */
export async function productTimeline(sku: string, before: unknown, db: pg.Pool): Promise<Html> {
  const from = HistoryBefore.safeParse(before);
  const page = await productHistory(
    sku,
    { limit: PAGE, before: from.success ? from.data : undefined },
    db,
  );
  const older = page?.next === undefined ? undefined : `?before=${page.next}`;
  return historySection(page?.entries ?? [], { sku, olderHref: older });
}

/** An order's story, newest first, `skip` entries in (the "Older entries" link's). */
export async function orderStory(
  orderid: string,
  skip: unknown,
  db: pg.Pool,
): Promise<{ entries: number; section: Html }> {
  const entries = (await orderHistory(orderid, db)).reverse();
  const from = typeof skip === 'string' && /^\d{1,6}$/.test(skip) ? Number(skip) : 0;
  const shown = entries.slice(from, from + PAGE);
  const older = entries.length > from + PAGE ? `?skip=${from + PAGE}` : undefined;
  return {
    entries: entries.length,
    section: historySection(shown, { sku: undefined, olderHref: older }),
  };
}
