import { html, pathPart, type Html } from './html';
import { table } from './layout';

export interface OrderAllocation {
  sku: string;
  batchref: string;
}

/** The order's lines now, then its story (history_section.ts). */
export function orderPage(lines: OrderAllocation[], story: Html): Html {
  return html`${linesNow(lines)} ${story}`;
}

function linesNow(lines: OrderAllocation[]): Html {
  if (lines.length === 0) {
    return html`<p class="empty">No line of this order is allocated now; its history says why.</p>`;
  }
  return html`<p class="muted">
      Each line of the order and the batch that holds it, from the read model (it can trail a
      just-made allocation by a moment).
    </p>
    ${table(
      'Order lines',
      html`<th scope="col">Sku</th>
        <th scope="col">Batch</th>`,
      lines.map(
        (line) =>
          html`<tr data-sku="${line.sku}">
            <td>
              <a href="/console/products/${pathPart(line.sku)}"><code>${line.sku}</code></a>
            </td>
            <td>
              <a href="/console/products/${pathPart(line.sku)}#batch-${line.batchref}"
                ><code>${line.batchref}</code></a
              >
            </td>
          </tr>`,
      ),
    )}`;
}
