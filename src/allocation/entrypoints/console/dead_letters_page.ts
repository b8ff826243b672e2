import { count, html, pathPart, time, type Html } from './html';
import { table } from './layout';

export interface DeadLetterView {
  id: string;
  source: string;
  payload: string;
  reason: string;
  attempts?: number;
  created_at: Date | string;
  replayed_at?: Date | string | null;
  /** Known for one dead letter: whether the outbox relay gave up on it (else it came in). */
  outbound?: boolean;
}

const PREVIEW = 120;

/** What the list shows: the reason prefix it is filtered by, and the next page's link. */
export interface ListView {
  reason?: string;
  next?: string;
}

export function deadLettersPage(letters: DeadLetterView[], view: ListView = {}): Html {
  return html`${filterForm(view.reason)}${list(letters, view.reason)}
  ${view.next ? html`<p><a rel="next" href="${view.next}">Next page (older)</a></p>` : ''}`;
}

function filterForm(reason: string | undefined): Html {
  return html`<form class="filter" action="/console/dead_letters" method="get">
    <label for="reason">Reason starts with</label>
    <input
      id="reason"
      name="reason"
      maxlength="2000"
      value="${reason ?? ''}"
      placeholder="e.g. UnknownBatch"
    />
    <button type="submit">Filter</button>
    <a href="/console/dead_letters/groups">See the groups</a>
  </form>`;
}

function list(letters: DeadLetterView[], reason: string | undefined): Html {
  if (letters.length === 0 && reason) {
    return html`<p class="empty">No dead letter's reason starts with that.</p>`;
  }
  if (letters.length === 0) {
    return html`<p class="empty">
      No dead letters: every message was handled. A message that is malformed, names an unknown
      batch, or cannot be delivered is set aside here with its reason, for you to replay once the
      cause is fixed, or to discard.
    </p>`;
  }
  return html`<p class="muted">
      Messages set aside, newest first. Open one to see it whole, replay it through its original
      path, or discard it.
    </p>
    ${table(
      'Dead letters',
      html`<th scope="col" class="num">Id</th>
        <th scope="col">Source</th>
        <th scope="col">Reason</th>
        <th scope="col">Payload</th>
        <th scope="col">Received</th>
        <th scope="col">Status</th>`,
      letters.map(
        (letter) =>
          html`<tr data-id="${letter.id}">
            <td class="num"><a href="${link(letter.id)}">${letter.id}</a></td>
            <td class="nowrap"><code>${letter.source}</code></td>
            <td>${letter.reason}</td>
            <td><code>${preview(letter.payload)}</code></td>
            <td>${time(letter.created_at)}</td>
            <td class="nowrap">${status(letter)}</td>
          </tr>`,
      ),
    )}`;
}

/** `superseded`: its last replay was superseded; offer to force it. */
export function deadLetterPage(letter: DeadLetterView, superseded = false): Html {
  return html`<dl>
      <dt>Source</dt>
      <dd><code>${letter.source}</code></dd>
      ${
        letter.outbound === undefined
          ? ''
          : html`<dt>Direction</dt>
              <dd>${letter.outbound ? 'outbound: the relay could not deliver it' : 'inbound'}</dd>`
      }
      <dt>Received</dt>
      <dd>${time(letter.created_at)}</dd>
      ${
        letter.attempts === undefined
          ? ''
          : html`<dt>Attempts</dt>
              <dd>${count(letter.attempts)}</dd>`
      }
      <dt>Status</dt>
      <dd data-field="status">${status(letter)}</dd>
    </dl>
    <h2>Reason</h2>
    <pre>${letter.reason}</pre>
    <h2>Payload</h2>
    <pre>${pretty(letter.payload)}</pre>
    <div class="actions">
      <form action="${link(letter.id)}/replay" method="post">
        <button type="submit">${letter.replayed_at ? 'Replay again' : 'Replay'}</button>
      </form>
      <form
        action="${link(letter.id)}/discard"
        method="post"
        data-confirm="Discard dead letter ${letter.id}? It cannot be replayed afterwards."
      >
        <button class="danger" type="submit">Discard</button>
      </form>
      <a href="/console/dead_letters">Back to the list</a>
    </div>
    ${
      superseded
        ? html`<form
            action="${link(letter.id)}/replay?force=true"
            method="post"
            data-confirm="Apply this older change anyway, over the newer one applied since?"
          >
            <button class="danger" type="submit">Replay anyway (force)</button>
          </form>`
        : ''
    }
    <p class="muted">
      Replay sends the message through its original path again (an inbound one to the message bus,
      an outbound one back to the relay); a message with an id has no second effect, and a quantity
      change older than one applied since is superseded: it changes nothing unless forced.
    </p>`;
}

function status(letter: DeadLetterView): Html {
  return letter.replayed_at
    ? html`<span class="tag ok">replayed</span> ${time(letter.replayed_at)}`
    : html`<span class="tag warn">waiting</span>`;
}

function link(id: string): string {
  return `/console/dead_letters/${pathPart(id)}`;
}

function preview(payload: string): string {
  return payload.length > PREVIEW ? `${payload.slice(0, PREVIEW)}…` : payload;
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload; // not JSON (that may be why it is here): shown exactly as received
  }
}
