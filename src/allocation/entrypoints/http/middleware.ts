// The middleware every request passes through, in the order koa_app.ts installs it, and the
// liveness probe answered in front of it all.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import bourne from '@hapi/bourne';
import inflate from 'inflation';
import getRawBody from 'raw-body';
import type Koa from 'koa';
import type { PrometheusMetrics } from '../../adapters/prometheus/metrics';
import type { Chain } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';

const MAX_BODY_BYTES = 16 * 1024;
// what @koa/bodyparser took for JSON: application/json and the JSON types it listed
const JSON_TYPES = [
  'application/json',
  'application/json-patch+json',
  'application/vnd.api+json',
  'application/csp-report',
  'application/reports+json',
  'application/scim+json',
];
// JSON's whitespace (RFC 8259: space, tab, line feed, carriage return), then { or [
const OBJECT_OR_ARRAY = /^[ \t\n\r]*[[{]/;
const PARSED_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const REQUEST_ID = /^[\w.-]{1,64}$/;

/**
 * GET /healthz is answered in front of Koa and admission control: liveness must depend on
 * nothing else, and a probe should cost no more than a bare Node response. Service CPU per
 * request (c16, alternating rounds in one window, 2026-11-27): 40 us as Koa's first middleware,
 * 22 us here; Koa's hello world 28 us beside 23 us here. HEAD, and requests made through Koa's
 * callback (the tests' supertest), go to the router's /healthz route.
 */
export function livenessFirst(next: RequestListener): RequestListener {
  return (req, res) => {
    const url = req.url ?? '';
    if (req.method !== 'GET' || (url !== '/healthz' && !url.startsWith('/healthz?'))) {
      return next(req, res);
    }
    answerJson(req, res, 200, HEALTHY_BODY);
  };
}

/**
 * A JSON answer written straight to Node's response, for the answers given in front of Koa
 * (the liveness probe, admission's refusals); like Koa's, it carries the request id.
 */
export function answerJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Request-Id': requestIdOf(req.headers['x-request-id']),
  });
  res.end(body);
}

export const HEALTHY = { status: 'ok' };
const HEALTHY_BODY = JSON.stringify(HEALTHY);

/**
 * JSON bodies of POST, PUT and PATCH, up to MAX_BODY_BYTES and within `timeoutMs` (else 408),
 * inflated when sent compressed: the pieces @koa/bodyparser uses through co-body, called
 * directly. The two layers above them cost 20-60 us of service CPU per POST /allocate
 * (content-type checks repeated per request, option objects, a text decoder per body): 479 ->
 * 448 us per allocation in one window of 8 alternating rounds, 2026-11-27. Any failure to read
 * a body is the client's: a corrupt compressed body, say, fails inside zlib with no HTTP
 * status, and must still be a 400, not a 500.
 */
export function parseJsonBody(timeoutMs: number) {
  return async (ctx: Koa.Context, next: Koa.Next): Promise<void> => {
    // the other methods skip reading a body, and two async frames
    if (!PARSED_METHODS.has(ctx.method)) return next();
    // a body of another type is left unread: `{}` fails validation as a 400
    ctx.request.body = ctx.is(JSON_TYPES) ? await readJson(ctx, timeoutMs) : {};
    await next();
  };
}

async function readJson(ctx: Koa.Context, timeoutMs: number): Promise<unknown> {
  let text: string;
  try {
    // the declared length can be checked before reading only when the body is not compressed
    const identity = (ctx.get('Content-Encoding') || 'identity') === 'identity';
    const length = identity ? ctx.get('Content-Length') : '';
    const bytes = getRawBody(inflate(ctx.req), {
      limit: MAX_BODY_BYTES,
      length: length === '' ? undefined : length,
    });
    text = (await withinBodyTimeout(ctx, bytes, timeoutMs)).toString('utf8');
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status !== undefined && status >= 400 && status < 500) throw error; // 408, 413, 415, 400
    return ctx.throw(400, `Body could not be read: ${(error as Error).message}`);
  }
  if (text === '') return {};
  // as co-body's strict mode: a JSON body is an object or an array
  if (!OBJECT_OR_ARRAY.test(text)) ctx.throw(400, 'A JSON body must be an object or an array');
  try {
    // refuses a `__proto__` key, as co-body did: no body can reach an object's prototype
    return bourne.parse(text, { protoAction: 'error' });
  } catch (error) {
    return ctx.throw(400, `Invalid JSON body: ${(error as Error).message}`);
  }
}

/**
 * The body, or a 408 once `ms` have passed. The rest of a late body is never read: the answer
 * closes the connection (Node then drops the socket instead of draining it for keep-alive).
 */
async function withinBodyTimeout(ctx: Koa.Context, body: Promise<Buffer>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      body.catch(() => undefined); // it fails when the socket closes; nobody waits for it
      ctx.set('Connection', 'close');
      const message = `The request body did not arrive within ${ms} ms`;
      reject(Object.assign(new Error(message), { status: 408, expose: true }));
    }, ms);
  });
  try {
    return await Promise.race([body, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The caller's X-Request-Id when it is a sane one, or a new id. */
function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * A request id (the caller's X-Request-Id, or a new one): the correlation id of the request's
 * log lines and of what its commands cause (`requestChain`).
 */
export function requestContext(metrics: PrometheusMetrics, log: Logger) {
  return async (ctx: Koa.Context, next: Koa.Next): Promise<void> => {
    const id = requestIdOf(ctx.get('X-Request-Id'));
    ctx.set('X-Request-Id', id);
    ctx.state.requestId = id;
    const started = process.hrtime.bigint();
    await next();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    metrics.observeHttp(ctx.method, String(route), ctx.status, seconds);
    log.debug(
      {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: seconds * 1000,
        correlation_id: id,
      },
      'request',
    );
  };
}

/** The chain of what a request's commands cause: its request id, also their history's cause. */
export function requestChain(ctx: Koa.Context): Chain {
  const id = ctx.state.requestId as string | undefined;
  return { correlationId: id, cause: id === undefined ? undefined : { kind: 'http', id } };
}
