// Cross-site request forgery: the console's forms change things (replay, discard, sign-in), so
// a form post is accepted only when the browser says it came from the console's own origin.
import type { Context, Next } from 'koa';
import { refuse } from './responses';

/**
 * Browsers send Sec-Fetch-Site on every request (Chrome 76, Firefox 90, Safari 16.4); where
 * it is missing, Origin must name this very origin. A request with neither is refused: a
 * script has the API's own routes, with a Bearer token, and needs no console forms.
 */
export async function sameOriginOnly(ctx: Context, next: Next): Promise<void> {
  const site = ctx.get('Sec-Fetch-Site');
  const origin = ctx.get('Origin');
  // (Koa 3's ctx.origin is the Origin header itself, so the own origin is built here.)
  const own = `${ctx.protocol}://${ctx.host}`;
  const sameOrigin = site !== '' ? site === 'same-origin' : origin === own;
  if (!sameOrigin) {
    refuse(ctx, 403, 'Refused: this form was not sent from the console itself', false);
    return;
  }
  await next();
}
