// SPEC section 3: a known path asked with a method it does not serve gets 405, an `Allow`
// header and a JSON body, whatever the method (Koa's router would answer a method it has never
// heard of, such as PROPFIND, with a text 501).
import type { Context, Next } from 'koa';

interface MatchedRoute {
  methods: string[];
}

/** Runs after the router: `ctx.matched` holds the routes whose path matched, any method. */
export function methodNotAllowed() {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    const matched = ((ctx as { matched?: MatchedRoute[] }).matched ?? []).filter(
      (route) => route.methods.length > 0, // middleware layers match any path with no method
    );
    if (matched.length === 0) return;
    const allowed = [...new Set(matched.flatMap((route) => route.methods))];
    if (allowed.includes(ctx.method)) return; // served, and the route itself said 404
    ctx.set('Allow', allowed.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    ctx.status = 405;
    ctx.body = {
      message: `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed.join(', ')}`,
    };
  };
}
