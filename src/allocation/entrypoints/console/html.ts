// Server-rendered HTML without a template engine: every interpolated value is escaped unless it
// is Html built by this same tag, so a sku or a dead letter's payload cannot inject markup.
export class Html {
  constructor(readonly text: string) {}
}

type Value = Html | string | number | null | undefined | false | readonly Value[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function render(value: Value): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (typeof value === 'string' || typeof value === 'number') {
    return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  }
  return value.map(render).join('');
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  return new Html(strings.reduce((out, s, i) => out + render(values[i - 1]) + s));
}

/** A time the viewer's browser shows in its own zone (assets' script); ISO in the markup. */
export function time(at: Date | string | null | undefined): Html {
  if (at === null || at === undefined) return html`<span class="muted">never</span>`;
  const iso = typeof at === 'string' ? at : at.toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** A calendar date (a batch's eta): no zone to convert, so shown as it is. */
export function date(day: string | null): Html {
  if (day === null) return html`<span class="tag">in warehouse</span>`;
  return html`<time datetime="${day}" data-kind="date">${day}</time>`;
}

/** "1 h 2 min", "45 s": how long something has waited. */
export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export const pathPart = (value: string): string => encodeURIComponent(value);
