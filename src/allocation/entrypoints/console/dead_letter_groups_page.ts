// The dead-letter groups page: open dead letters by source and normalised reason, each group
// with "replay this group" and "discard this group" (same-origin POST forms).
import type { DeadLetterGroup } from '../../service_layer/dead_letters';
import { count, html, time, type Html } from './html';
import { table } from './layout';

export function groupsPage(groups: DeadLetterGroup[]): Html {
  if (groups.length === 0) {
    return html`<p class="empty">
      No open dead letters: nothing waits to be replayed or discarded.
    </p>`;
  }
  return html`<p class="muted">
      Open dead letters (not replayed, not discarded) by source and reason, where the reason's ids
      and numbers are replaced by <code>*</code>. Replaying a group sends every message of it
      through its original path again, in batches; a quantity change older than one applied since is
      <em>superseded</em> and changes nothing (it stays open).
    </p>
    ${table(
      'Dead-letter groups',
      html`<th scope="col">Source</th>
        <th scope="col">Reason</th>
        <th scope="col" class="num">Count</th>
        <th scope="col">First</th>
        <th scope="col">Last</th>
        <th scope="col">Actions</th>`,
      groups.map(
        (group) =>
          html`<tr data-source="${group.source}">
            <td class="nowrap"><code>${group.source}</code></td>
            <td>${group.reason}</td>
            <td class="num">${count(group.count)}</td>
            <td>${time(group.first_at)}</td>
            <td>${time(group.last_at)}</td>
            <td class="nowrap actions">
              ${groupForm(group, 'replay')} ${groupForm(group, 'discard')}
            </td>
          </tr>`,
      ),
    )}`;
}

function groupForm(group: DeadLetterGroup, action: 'replay' | 'discard'): Html {
  const confirm =
    action === 'discard'
      ? html`data-confirm="Discard all ${count(group.count)} dead letters of this group? They cannot
        be replayed afterwards."`
      : '';
  return html`<form action="/console/dead_letters/groups/${action}" method="post" ${confirm}>
    <input type="hidden" name="source" value="${group.source}" />
    <input type="hidden" name="group" value="${group.reason}" />
    <button class="${action === 'discard' ? 'danger' : ''}" type="submit">
      ${action === 'replay' ? 'Replay this group' : 'Discard this group'}
    </button>
  </form>`;
}
