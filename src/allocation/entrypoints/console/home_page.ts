import { count, duration, html, type Html } from './html';

export interface Overview {
  backlog: { count: number; oldestAgeSeconds: number };
  /** Dead letters not yet replayed, among the newest `of`. */
  waitingDeadLetters: number;
  of: number;
}

export function homePage(overview: Overview): Html {
  const waiting =
    overview.waitingDeadLetters >= overview.of
      ? `${overview.of}+`
      : count(overview.waitingDeadLetters);
  return html`<p>
      Find a product's stock or an order's allocations with the search box: type a sku (e.g.
      <code>SMALL-TABLE</code>) or an order id.
    </p>
    <div class="cards">
      <a class="card" href="/console/outbox"
        ><div class="muted">Outbox backlog</div>
        <div class="value">${count(overview.backlog.count)}</div></a
      >
      <a class="card" href="/console/outbox"
        ><div class="muted">Oldest undelivered</div>
        <div class="value">
          ${overview.backlog.count === 0 ? '–' : duration(overview.backlog.oldestAgeSeconds)}
        </div></a
      >
      <a class="card" href="/console/dead_letters"
        ><div class="muted">Dead letters waiting</div>
        <div class="value">${waiting}</div></a
      >
    </div>`;
}
