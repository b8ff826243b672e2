// The console's stylesheet and its one small script, served by the service itself (no CDN, no
// bundler): they ship inside the compiled code, so the image needs no extra files.
import { createHash } from 'node:crypto';

const CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b636e; --bg: #fff; --panel: #f4f6f8;
  --line: #d5dae0; --accent: #0b57d0; --ok: #1e7f45; --warn: #a15c00; --bad: #b3261e;
  --bar: #0b57d0; --bar-bg: #dde3ea; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #a0a7b0; --bg: #14171a;
  --panel: #1e2226; --line: #343a41; --accent: #8ab4f8; --ok: #6dd58c; --warn: #f3b65b;
  --bad: #f2877e; --bar: #8ab4f8; --bar-bg: #343a41; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; border-radius: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 1; }
header { background: var(--panel); border-bottom: 1px solid var(--line); }
nav { max-width: 72rem; margin: 0 auto; padding: .75rem 1rem; display: flex; flex-wrap: wrap;
  gap: .75rem 1.5rem; align-items: center; }
nav .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
nav [aria-current="page"] { font-weight: 700; text-decoration: none; }
nav form { display: flex; gap: .5rem; align-items: center; margin-left: auto; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
input, button { font: inherit; }
input { padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg); min-width: 0; }
button, .button { padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--bg); cursor: pointer; text-decoration: none;
  display: inline-block; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--bad); border-color: var(--bad); }
label { font-weight: 600; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip-path: inset(50%); white-space: nowrap; }
.table { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .5rem .75rem; text-align: left; border-bottom: 1px solid var(--line);
  vertical-align: top; }
tr:last-child > * { border-bottom: 0; }
thead th { background: var(--panel); font-size: .875rem; color: var(--muted);
  white-space: nowrap; }
.nowrap, .nowrap code { white-space: nowrap; overflow-wrap: normal; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.tag { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem;
  background: var(--panel); border: 1px solid var(--line); white-space: nowrap; }
.tag.ok { color: var(--ok); border-color: var(--ok); }
.tag.warn { color: var(--warn); border-color: var(--warn); }
.tag.bad { color: var(--bad); border-color: var(--bad); }
.bar { display: block; width: 100%; min-width: 6rem; height: .9rem; border-radius: 4px; }
.bar .track { fill: var(--bar-bg); }
.bar .fill { fill: var(--bar); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 1rem; }
.card { display: block; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; padding: .75rem 1rem; color: inherit; text-decoration: none; }
a.card:hover { border-color: var(--accent); }
.card .value { font-size: 1.8rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.empty, .notice { background: var(--panel); border: 1px dashed var(--line); border-radius: 8px;
  padding: 1rem; }
.notice { border-style: solid; border-left: 4px solid var(--accent); }
.notice.bad { border-left-color: var(--bad); }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: .75rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
code { overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.actions form { margin: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.sign-in { max-width: 24rem; margin: 3rem auto; display: grid; gap: .75rem; }
@media (max-width: 40rem) {
  nav form { margin-left: 0; width: 100%; }
  nav form input { flex: 1; }
  dl { grid-template-columns: 1fr; }
  th, td { padding: .4rem .5rem; }
}
`;

// Times arrive as ISO in <time datetime>; the viewer's browser shows them in its own zone.
const SCRIPT = `
document.querySelectorAll('time[datetime]').forEach(function (el) {
  var at = new Date(el.getAttribute('datetime'));
  if (isNaN(at)) return;
  var dateOnly = el.dataset.kind === 'date';
  el.textContent = new Intl.DateTimeFormat(undefined, dateOnly
    ? { dateStyle: 'medium', timeZone: 'UTC' }
    : { dateStyle: 'medium', timeStyle: 'medium' }).format(at);
  if (!dateOnly) el.title = el.getAttribute('datetime');
});
document.querySelectorAll('form[data-confirm]').forEach(function (form) {
  form.addEventListener('submit', function (event) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});
`;

interface Asset {
  type: string;
  body: string;
  etag: string;
}

function asset(type: string, body: string): Asset {
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

/** A Map, not an object: a name from the URL such as `__proto__` must find nothing. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['console.css', asset('text/css; charset=utf-8', CSS)],
  ['console.js', asset('text/javascript; charset=utf-8', SCRIPT)],
]);
