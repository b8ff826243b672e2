// Dead letters in the console: the list, one message whole, replay and discard, through the same
// store and the same replay operation as the API's /dead_letters routes.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { recordOperatorAction, type Actor, type AuditLog } from '../../service_layer/audit';
import {
  replayDeadLetter,
  type DeadLetterReplayDeps,
  type ReplayResult,
} from '../../service_layer/dead_letters';
import { describe } from '../http/dead_letter_routes';
import { Before, ReasonText } from '../http/incident_schemas';
import { deadLetterPage, deadLettersPage } from './dead_letters_page';
import { html, pathPart } from './html';
import type { PageOptions } from './layout';
import { sendPage } from './responses';

const LISTED = 100;
// What a replay or discard did, shown after the redirect; a fixed table, so no text of the URL
// is ever echoed into the page (a Map: `?done=__proto__` must find nothing).
const DONE = new Map([
  ['replayed', 'Replayed: the message went through its original path again.'],
  ['requeued', 'Requeued: the message is back in the outbox, and the relay delivers it shortly.'],
  ['already', 'It had been replayed already: a second replay has no effect.'],
  ['failed', 'Replayed, and it failed again: this new dead letter holds the reason.'],
  [
    'superseded',
    'Superseded: a newer quantity change of its batch was applied since, so it changed nothing.',
  ],
  ['discarded', 'Discarded: the dead letter is gone from the list.'],
]);

export interface DeadLetterRouteDeps {
  deadLetters: DeadLetterReplayDeps;
  signedIn: Middleware;
  checkForm: Middleware;
  shell: (title: string) => PageOptions;
  audit: AuditLog;
  /** `console` when ADMIN_TOKEN is set (a session or its token), else `open`. */
  actor: Actor;
}

export function addDeadLetterRoutes(router: Router, deps: DeadLetterRouteDeps): void {
  const { deadLetters, signedIn, checkForm, shell } = deps;
  const { store } = deadLetters;
  const audited = <T>(action: string, target: string, act: () => Promise<T>) =>
    recordOperatorAction(deps.audit, { actor: deps.actor, action, target }, act, describe);

  router.get('/dead_letters', signedIn, async (ctx) => {
    // a bad value is ignored, not an error page: these come from the page's own links and form
    const reason = ReasonText.safeParse(ctx.query.reason).data || undefined;
    const before = Before.safeParse(ctx.query.before).data;
    const { letters, more } = await store.page(LISTED, { reason }, before);
    const next = more ? nextLink(reason, letters[letters.length - 1].id) : undefined;
    const view = deadLettersPage(letters, { reason, next });
    sendPage(ctx, { ...shell('Dead letters'), notice: notice(ctx) }, view);
  });

  router.get('/dead_letters/:id', signedIn, async (ctx) => {
    const letter = await store.get(ctx.params.id);
    if (!letter) return missing(ctx);
    const title = `Dead letter ${letter.id}`;
    const superseded = ctx.query.done === 'superseded';
    sendPage(ctx, { ...shell(title), notice: notice(ctx) }, deadLetterPage(letter, superseded));
  });

  router.post('/dead_letters/:id/replay', checkForm, signedIn, async (ctx) => {
    const force = ctx.query.force === 'true';
    const id = ctx.params.id;
    const result = await audited(force ? 'replay_forced' : 'replay', id, () =>
      replayDeadLetter(id, deadLetters, force),
    );
    if (!result) return missing(ctx);
    ctx.redirect(afterReplay(result));
  });

  router.post('/dead_letters/:id/discard', checkForm, signedIn, async (ctx) => {
    const id = ctx.params.id;
    if (!(await audited('discard', id, () => store.discard(id)))) return missing(ctx);
    ctx.redirect('/console/dead_letters?done=discarded');
  });

  function missing(ctx: Context): void {
    const body = html`<p class="empty">
      No dead letter ${ctx.params.id}: it may have been discarded, or pruned after its retention.
      <a href="/console/dead_letters">See the list</a>.
    </p>`;
    sendPage(ctx, shell('Not found'), body, 404);
  }
}

/** Where a replay leaves the operator: the letter itself, or the new one if it failed again. */
function afterReplay(result: ReplayResult): string {
  if (result.status === 'failed') return `${link(result.dead_letter_id)}?done=failed`;
  return `${link(result.id)}?done=${result.status === 'already replayed' ? 'already' : result.status}`;
}

function nextLink(reason: string | undefined, before: string): string {
  const query = new URLSearchParams(reason ? { reason, before } : { before });
  return `/console/dead_letters?${query.toString()}`;
}

function link(id: string): string {
  return `/console/dead_letters/${pathPart(id)}`;
}

function notice(ctx: Context): { text: string } | undefined {
  const text = typeof ctx.query.done === 'string' ? DONE.get(ctx.query.done) : undefined;
  return text ? { text } : undefined;
}
