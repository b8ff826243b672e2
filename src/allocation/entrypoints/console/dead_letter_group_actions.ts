// The console's incident pages: dead-letter groups with "replay this group" and "discard this
// group", and the audit of operator actions. The same operations as the API's bulk routes.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { recordOperatorAction } from '../../service_layer/audit';
import { discardMatching, replayMatching } from '../../service_layer/dead_letter_bulk';
import { target } from '../http/dead_letter_routes';
import { DeadLetterFilterBody } from '../http/incident_schemas';
import { auditPage } from './audit_page';
import type { DeadLetterRouteDeps } from './dead_letter_actions';
import { groupsPage } from './dead_letter_groups_page';
import { count } from './html';
import { sendPage } from './responses';

const AUDIT_SHOWN = 200;
const SUMMARY_FIELDS = ['matched', 'replayed', 'failed', 'superseded', 'discarded'] as const;

export function addGroupRoutes(router: Router, deps: DeadLetterRouteDeps): void {
  const { deadLetters, signedIn, checkForm, shell } = deps;

  router.get('/dead_letters/groups', signedIn, async (ctx) => {
    const groups = await deadLetters.store.groups();
    const page = {
      ...shell('Dead-letter groups'),
      section: 'groups' as const,
      notice: summaryNotice(ctx),
    };
    sendPage(ctx, page, groupsPage(groups));
  });

  for (const action of ['replay', 'discard'] as const) {
    router.post(`/dead_letters/groups/${action}`, checkForm, signedIn, async (ctx) => {
      const form = ctx.request.body as Record<string, unknown> | undefined;
      const parsed = DeadLetterFilterBody.safeParse({ source: form?.source, group: form?.group });
      if (!parsed.success || parsed.data.group === undefined) {
        const body = groupsPage(await deadLetters.store.groups());
        const notice = { text: 'That group is not one this page offered.', bad: true };
        return sendPage(ctx, { ...shell('Dead-letter groups'), notice }, body, 400);
      }
      const filter = { source: parsed.data.source, group: parsed.data.group };
      const entry = { actor: deps.actor, action: `bulk_${action}`, target: target(filter) };
      const summary = await recordOperatorAction<Record<string, number>>(deps.audit, entry, () =>
        action === 'replay'
          ? replayMatching(filter, false, deadLetters).then((s) => ({ ...s }))
          : discardMatching(filter, deadLetters).then((s) => ({ ...s })),
      );
      const query = new URLSearchParams({ done: action });
      for (const field of SUMMARY_FIELDS) {
        if (summary[field] !== undefined) query.set(field, String(summary[field]));
      }
      ctx.redirect(`/console/dead_letters/groups?${query.toString()}`);
    });
  }

  router.get('/audit', signedIn, async (ctx) => {
    const entries = await deps.audit.recent(AUDIT_SHOWN);
    sendPage(ctx, { ...shell('Audit'), section: 'audit' }, auditPage(entries));
  });
}

/** What the last group action did, from numbers only: no text of the URL reaches the page. */
function summaryNotice(ctx: Context): { text: string } | undefined {
  const done = ctx.query.done;
  if (done !== 'replay' && done !== 'discard') return undefined;
  const parts = SUMMARY_FIELDS.flatMap((field) => {
    const value = Number(ctx.query[field]);
    return Number.isSafeInteger(value) && value >= 0 ? [`${field} ${count(value)}`] : [];
  });
  const what = done === 'replay' ? 'Group replayed' : 'Group discarded';
  return { text: `${what}: ${parts.join(', ')}.` };
}
