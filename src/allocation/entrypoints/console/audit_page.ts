import type { AuditEntry } from '../../service_layer/audit';
import { html, time, type Html } from './html';
import { table } from './layout';

/** Operator actions, newest first (GET /audit). */
export function auditPage(entries: AuditEntry[]): Html {
  if (entries.length === 0) {
    return html`<p class="empty">
      No operator action yet: replays, discards, pauses and resumes show here.
    </p>`;
  }
  return html`<p class="muted">
      Every replay and discard (one or in bulk, from the API or this console), newest first.
      <code>admin</code>: with ADMIN_TOKEN as a bearer token; <code>console</code>: from a console
      session; <code>open</code>: no ADMIN_TOKEN is set.
    </p>
    ${table(
      'Audit',
      html`<th scope="col">When</th>
        <th scope="col">Actor</th>
        <th scope="col">Action</th>
        <th scope="col">Target</th>
        <th scope="col">Result</th>`,
      entries.map(
        (entry) =>
          html`<tr>
            <td>${time(entry.at)}</td>
            <td><span class="tag">${entry.actor}</span></td>
            <td class="nowrap">${entry.action}</td>
            <td><code>${entry.target}</code></td>
            <td><code>${entry.result}</code></td>
          </tr>`,
      ),
    )}`;
}
