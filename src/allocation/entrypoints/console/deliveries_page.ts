// Deliveries in the console: each handler's state and backlog, with pause and resume, through
// the same service-layer operation as the API's /deliveries routes.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import {
  type DeliveriesDeps,
  type DeliveryEntry,
  isDeliveryHandler,
  listDeliveries,
  setDeliveryPaused,
} from '../../service_layer/deliveries';
import { recordOperatorAction, type Actor, type AuditLog } from '../../service_layer/audit';
import { count, duration, html, type Html } from './html';
import { table, type PageOptions } from './layout';
import { sendPage } from './responses';

// What an action did, shown after the redirect; a fixed table, so no URL text reaches the page.
const DONE: Record<string, string> = {
  paused: 'Paused: its messages wait (outbound in the outbox, inbound in Redis) until resumed.',
  resumed: 'Resumed: what waited is delivered in order.',
};

const WHAT: Record<DeliveryEntry['handler'], string> = {
  line_allocated: 'line_allocated messages published to Redis',
  email: 'out-of-stock emails sent over SMTP',
  inbound: 'change_batch_quantity messages applied from Redis',
};

export interface DeliveryPageDeps {
  deliveries: DeliveriesDeps;
  signedIn: Middleware;
  checkForm: Middleware;
  shell: (title: string) => PageOptions;
  /** Where the pause or resume is recorded, and who the console's operator is. */
  audit?: { log: AuditLog; actor: Actor };
}

export function addDeliveryPages(router: Router, deps: DeliveryPageDeps): void {
  const { deliveries, signedIn, checkForm, shell } = deps;

  router.get('/deliveries', signedIn, async (ctx) => {
    const done = typeof ctx.query.done === 'string' ? DONE[ctx.query.done] : undefined;
    const entries = await listDeliveries(deliveries);
    const options = { ...shell('Deliveries'), notice: done ? { text: done } : undefined };
    sendPage(ctx, options, deliveriesPage(entries));
  });

  for (const [action, paused, done] of [
    ['pause', true, 'paused'],
    ['resume', false, 'resumed'],
  ] as const) {
    router.post(`/deliveries/:handler/${action}`, checkForm, signedIn, async (ctx: Context) => {
      const handler = String(ctx.params.handler);
      if (!isDeliveryHandler(handler)) {
        const body = html`<p class="empty">
          No delivery handler ${handler}. <a href="/console/deliveries">See the list</a>.
        </p>`;
        return sendPage(ctx, shell('Not found'), body, 404);
      }
      const act = () => setDeliveryPaused(handler, paused, deliveries);
      const audit = deps.audit;
      if (audit) {
        const entry = { actor: audit.actor, action, target: handler };
        await recordOperatorAction(audit.log, entry, act, (done) => done.state);
      } else await act();
      ctx.redirect(`/console/deliveries?done=${done}`);
    });
  }
}

function deliveriesPage(entries: DeliveryEntry[]): Html {
  return html`<p class="muted">
      Pause a handler to hold its messages during an incident or a deploy: nothing is lost, and what
      waited is delivered in order once resumed. A circuit opens by itself while Redis or SMTP
      cannot be reached, and closes when it is back.
    </p>
    ${table(
      'Deliveries',
      html`<th scope="col">Handler</th>
        <th scope="col">State</th>
        <th scope="col" class="num">Waiting</th>
        <th scope="col">Oldest has waited</th>
        <th scope="col">Action</th>`,
      entries.map(
        (e) =>
          html`<tr data-handler="${e.handler}">
            <td>
              <code>${e.handler}</code>
              <div class="muted">${WHAT[e.handler]}</div>
            </td>
            <td class="nowrap" data-field="state">${state(e)}</td>
            <td class="num" data-field="backlog">${e.backlog === null ? '?' : count(e.backlog)}</td>
            <td>${!e.backlog || e.oldest_age_s === null ? '–' : duration(e.oldest_age_s)}</td>
            <td>${action(e)}</td>
          </tr>`,
      ),
    )}`;
}

function state(entry: DeliveryEntry): Html {
  if (entry.state === 'paused') return html`<span class="tag warn">paused</span>`;
  if (entry.state === 'circuit_open') return html`<span class="tag bad">circuit open</span>`;
  return html`<span class="tag ok">running</span>`;
}

function action(entry: DeliveryEntry): Html {
  const paused = entry.state === 'paused';
  return html`<form
    action="/console/deliveries/${entry.handler}/${paused ? 'resume' : 'pause'}"
    method="post"
  >
    <button class="${paused ? '' : 'secondary'}" type="submit">
      ${paused ? 'Resume' : 'Pause'}
    </button>
  </form>`;
}
