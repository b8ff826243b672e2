// How the console answers: HTML pages with strict headers, or JSON for non-HTML clients.
import type { Context } from 'koa';
import { html, type Html } from './html';
import { page, type PageOptions } from './layout';

// Only the console's own stylesheet and script; no framing, so no clickjacking of its buttons.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'self'",
  "script-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function sendPage(ctx: Context, options: PageOptions, body: Html, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'same-origin');
  // Stock and dead letters change all the time, and a shared computer must not keep them.
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page(options, body).text;
}

/** A browser is sent to a page; anything else (curl, scripts) gets JSON it can read. */
export function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html';
}

export function refuse(ctx: Context, status: number, message: string, signedIn: boolean): void {
  if (!wantsHtml(ctx)) {
    ctx.status = status;
    ctx.body = { message };
    return;
  }
  sendPage(
    ctx,
    { title: 'Refused', signedIn, notice: { text: message, bad: true } },
    html``,
    status,
  );
}
