// Bearer-token auth (SPEC section 9): API_TOKEN guards the routes of section 3, ADMIN_TOKEN the
// operator routes. Health and docs routes take no guard. Tokens are compared in constant time
// and never logged.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Actor } from '../../service_layer/audit';

export interface AuthTokens {
  apiToken?: string;
  adminToken?: string;
}

/** The operator console keeps its sign-in in this cookie (see consoleSessionValue). */
export const CONSOLE_SESSION_COOKIE = 'console_session';

/**
 * The console session cookie's value: derived from ADMIN_TOKEN, so it proves the sign-in knew
 * the token without holding it, and every session ends when the token changes.
 */
export function consoleSessionValue(adminToken: string): string {
  return createHmac('sha256', adminToken).update('console-session').digest('base64url');
}

/** Hashing first gives equal lengths, which timingSafeEqual needs, and hides the length. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function bearerToken(ctx: Context): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(ctx.get('Authorization'));
  return match?.[1];
}

function refuse(ctx: Context): void {
  ctx.status = 401;
  ctx.set('WWW-Authenticate', 'Bearer realm="allocation"');
  ctx.body = { message: 'Missing or invalid bearer token' };
}

/** Middleware for one route: passes when no token is configured or the right one is sent. */
function requireToken(token: string | undefined, acceptsConsoleSession: boolean) {
  const session = token !== undefined && acceptsConsoleSession ? consoleSessionValue(token) : '';
  return async (ctx: Context, next: Next): Promise<void> => {
    if (token === undefined) {
      ctx.state.actor = 'open' satisfies Actor;
      return next();
    }
    const bearer = bearerToken(ctx);
    const cookie = acceptsConsoleSession ? ctx.cookies.get(CONSOLE_SESSION_COOKIE) : undefined;
    // Both checks always run, so timing does not tell which credential was tried.
    const bearerOk = sameSecret(bearer ?? '', token) && bearer !== undefined;
    const cookieOk = sameSecret(cookie ?? '', session) && cookie !== undefined;
    if (!bearerOk && !cookieOk) return refuse(ctx);
    // who acted, for the audit of operator actions
    ctx.state.actor = (bearerOk ? 'admin' : 'console') satisfies Actor;
    return next();
  };
}

/** The two guards: `api` for section 3 routes, `admin` for operator routes (console included). */
export function authGuards(tokens: AuthTokens) {
  return {
    api: requireToken(tokens.apiToken, false),
    admin: requireToken(tokens.adminToken, true),
  };
}

export type AuthGuards = ReturnType<typeof authGuards>;

/** Who made a request that passed the admin guard (or the console's session check). */
export function actorOf(ctx: Context): Actor {
  const actor = ctx.state.actor as Actor | undefined;
  return actor ?? 'open';
}

/** True for an API_HOST only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
