import type { OutboxFailure } from '../../adapters/postgres/knex_outbox';
import { count, duration, html, pathPart, time, type Html } from './html';
import { table } from './layout';

export interface OutboxStatus {
  backlog: { count: number; oldestAgeSeconds: number };
  failures: OutboxFailure[];
}

export function outboxPage({ backlog, failures }: OutboxStatus): Html {
  const cards = html`<div class="cards">
      <div class="card">
        <div class="muted">Waiting to be delivered</div>
        <div class="value" data-field="backlog">${count(backlog.count)}</div>
      </div>
      <div class="card">
        <div class="muted">Oldest has waited</div>
        <div class="value" data-field="oldest">
          ${backlog.count === 0 ? '–' : duration(backlog.oldestAgeSeconds)}
        </div>
      </div>
    </div>
    <p class="muted">
      The outbox holds what a change must announce (line_allocated messages, out-of-stock emails,
      read-model updates) until the relay has delivered it.
    </p>`;
  const heading = html`<h2>Last failures</h2>`;
  if (failures.length === 0) {
    return html`${cards}${heading}
      <p class="empty">
        No undelivered message has failed: nothing to do. Failing deliveries show here with their
        error while the relay retries them.
      </p>`;
  }
  return html`${cards}${heading}
    <p class="muted">
      Undelivered messages whose last delivery failed, newest first. The relay retries each with a
      growing delay; fix the cause (Redis, SMTP) and they go out.
    </p>
    ${table(
      'Failed deliveries',
      html`<th scope="col" class="num">Id</th>
        <th scope="col">Event → handler</th>
        <th scope="col">Sku</th>
        <th scope="col" class="num">Attempts</th>
        <th scope="col">Last error</th>
        <th scope="col">Created</th>
        <th scope="col">Next attempt</th>`,
      failures.map(
        (f) =>
          html`<tr>
            <td class="num">${f.id}</td>
            <td class="nowrap"><code>${f.type}</code> → <code>${f.handler}</code></td>
            <td>
              <a href="/console/products/${pathPart(f.key)}"><code>${f.key}</code></a>
            </td>
            <td class="num">${count(f.attempts)}</td>
            <td>${f.last_error}</td>
            <td>${time(f.created_at)}</td>
            <td>${time(f.next_attempt_at)}</td>
          </tr>`,
      ),
    )}`;
}
