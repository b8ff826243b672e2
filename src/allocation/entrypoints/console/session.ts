// Sign-in, sign-out and the session check. With ADMIN_TOKEN set, a browser signs in once and
// keeps a cookie derived from the token; scripts may send the token as a Bearer header instead.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { CONSOLE_SESSION_COOKIE as COOKIE, consoleSessionValue, sameSecret } from '../http/auth';
import { refuse, sendPage, wantsHtml } from './responses';
import { signInPage } from './sign_in_page';

// Where a sign-in may send the browser on: a console page, never another site.
const CONSOLE_PATH = /^\/console(?:[/?][\x21-\x7e]*)?$/;

export function isSignedIn(ctx: Context, token: string | undefined): boolean {
  if (token === undefined) return true;
  const bearer = /^Bearer (.+)$/.exec(ctx.get('Authorization'))?.[1];
  if (bearer !== undefined) return sameSecret(bearer, token);
  const cookie = ctx.cookies.get(COOKIE);
  return cookie !== undefined && sameSecret(cookie, consoleSessionValue(token));
}

/** Lets a signed-in request through; a browser is sent to sign in, anything else gets 401. */
export function requireSession(token: string | undefined) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (isSignedIn(ctx, token)) return next();
    if (wantsHtml(ctx)) {
      const next = ctx.method === 'GET' ? ctx.originalUrl : '/console';
      ctx.redirect(`/console/sign_in?next=${encodeURIComponent(next)}`);
      return;
    }
    ctx.set('WWW-Authenticate', 'Bearer');
    refuse(ctx, 401, 'Sign in with the ADMIN_TOKEN, or send it as a Bearer token', false);
  };
}

/** GET and POST /console/sign_in, POST /console/sign_out. */
export function addSessionRoutes(
  router: Router,
  token: string | undefined,
  checkForm: (ctx: Context, next: Next) => Promise<void>,
): void {
  router.get('/sign_in', (ctx) => {
    const next = safeNext(ctx.query.next);
    if (token === undefined || isSignedIn(ctx, token)) return ctx.redirect(next);
    sendPage(ctx, { title: 'Sign in', signedIn: false, nav: false }, signInPage(next));
  });

  router.post('/sign_in', checkForm, (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const next = safeNext(form.next);
    if (token === undefined) return ctx.redirect(next);
    const given = typeof form.token === 'string' ? form.token : '';
    if (!sameSecret(given, token)) {
      const notice = { text: 'That is not the ADMIN_TOKEN. Try again.', bad: true };
      sendPage(
        ctx,
        { title: 'Sign in', signedIn: false, nav: false, notice },
        signInPage(next),
        401,
      );
      return;
    }
    ctx.cookies.set(COOKIE, consoleSessionValue(token), cookieOptions(ctx));
    ctx.redirect(next);
  });

  router.post('/sign_out', checkForm, (ctx) => {
    ctx.cookies.set(COOKIE, '', { ...cookieOptions(ctx), expires: new Date(0) });
    ctx.redirect(token === undefined ? '/console' : '/console/sign_in');
  });
}

// Lax rather than Strict: a console link opened from chat or a ticket arrives signed in. Every
// change is a POST, which Lax keeps from other sites and checkForm checks again.
function cookieOptions(ctx: Context) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    path: '/console',
    secure: ctx.secure,
    overwrite: true,
  };
}

function safeNext(value: unknown): string {
  return typeof value === 'string' && CONSOLE_PATH.test(value) ? value : '/console';
}
