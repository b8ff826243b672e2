// The page shell every console page shares: navigation, the search box, sign-out.
import { html, type Html } from './html';

export interface PageOptions {
  title: string;
  /** Which navigation entry is this page's, for aria-current. */
  section?: 'home' | 'outbox' | 'dead_letters' | 'groups' | 'audit' | 'deliveries';
  /** Whether a sign-out button is shown (only when ADMIN_TOKEN is set). */
  signedIn: boolean;
  /** A one-line message about what the last action did. */
  notice?: { text: string; bad?: boolean };
  query?: string;
  /** False on the sign-in page, whose links would all lead back to it. */
  nav?: boolean;
}

const NAV: [PageOptions['section'], string, string][] = [
  ['home', '/console', 'Overview'],
  ['outbox', '/console/outbox', 'Outbox'],
  ['dead_letters', '/console/dead_letters', 'Dead letters'],
  ['deliveries', '/console/deliveries', 'Deliveries'],
  ['groups', '/console/dead_letters/groups', 'Groups'],
  ['audit', '/console/audit', 'Audit'],
];

export function page(options: PageOptions, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · allocation console</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        ${options.nav === false ? '' : navigation(options)}
        <main id="main">
          <h1>${options.title}</h1>
          ${options.notice ? html`<p class="notice ${options.notice.bad ? 'bad' : ''}" role="status">${options.notice.text}</p>` : ''}
          ${body}
        </main>
      </body>
    </html>`;
}

function navigation(options: PageOptions): Html {
  const links = NAV.map(
    ([section, href, label]) =>
      html`<li>
        <a href="${href}" ${options.section === section ? html`aria-current="page"` : ''}
          >${label}</a
        >
      </li>`,
  );
  return html`<header>
    <nav aria-label="Console">
      <a class="brand" href="/console">Allocation console</a>
      <ul>
        ${links}
      </ul>
      <form role="search" action="/console/search" method="get">
        <label for="search">Sku or order id</label>
        <input
          id="search"
          name="q"
          type="search"
          required
          maxlength="255"
          value="${options.query ?? ''}"
          placeholder="e.g. SMALL-TABLE"
        />
        <button type="submit">Find</button>
      </form>
      ${options.signedIn ? signOut() : ''}
    </nav>
  </header>`;
}

function signOut(): Html {
  return html`<form action="/console/sign_out" method="post">
    <button class="secondary" type="submit">Sign out</button>
  </form>`;
}

/** A table that scrolls sideways on a phone; focusable, so a keyboard can scroll it too. */
export function table(label: string, headings: Html, rows: Html[]): Html {
  return html`<div class="table" role="region" aria-label="${label}" tabindex="0">
    <table>
      <thead>
        <tr>
          ${headings}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}
