// The API's documents and the page that shows them: OpenAPI for the HTTP routes, AsyncAPI for
// the Redis messages, and Swagger UI at /docs. Always open (SPEC section 9): they tell nothing
// a client of the API cannot read from its answers.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type Router from '@koa/router';
import { openApiDocument } from './api_schemas';
import { asyncApiDocument } from './asyncapi';

const DOCS_ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js']);
// The package's index loads its whole 1.5 MB bundle; only the folder is needed.
const SWAGGER_UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>allocation API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><p style="font-family: sans-serif; margin: 1em 20px">Redis messages (channels
<code>change_batch_quantity</code> and <code>line_allocated</code>):
<a href="/asyncapi.json">AsyncAPI document</a></p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script>
</body></html>`;

export function addDocsRoutes(router: Router): void {
  const document = openApiDocument();
  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });
  const messages = asyncApiDocument();
  router.get('/asyncapi.json', (ctx) => {
    ctx.body = messages;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'html';
    ctx.body = DOCS_PAGE;
  });
  // Swagger UI's assets come from the npm package, so the docs page works offline.
  router.get('/docs/assets/:file', async (ctx) => {
    const file = ctx.params.file;
    if (!DOCS_ASSETS.has(file)) return;
    ctx.type = path.extname(file);
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = await readFile(path.join(SWAGGER_UI, file));
  });
}
