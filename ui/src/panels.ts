/** The message view's check and source panels: HTML check, spam check, highlighted HTML source. */
import { htmlCheck, spamCheck } from './api.js';
import { h } from './dom.js';
import { highlightHtml } from './highlight.js';

const percent = (value: number) => `${String(Math.round(value * 10) / 10)}%`;

/** The HTML as sent, coloured token by token (each token a text node: nothing is parsed). */
export function sourcePanel(html: string): HTMLElement {
  return h(
    'pre',
    { class: 'raw html-source' },
    ...highlightHtml(html).map((token) =>
      token.kind === 'text'
        ? document.createTextNode(token.text)
        : h('span', { class: `hl-${token.kind}`, text: token.text }),
    ),
  );
}

/** caniemail's verdict: overall support, then each feature some client lacks. */
export async function htmlCheckPanel(id: string): Promise<HTMLElement> {
  const check = await htmlCheck(id);
  const rows = check.Warnings.map((warning) =>
    h(
      'tr',
      {},
      h(
        'td',
        {},
        h('a', { text: warning.Title, attrs: { href: warning.URL, target: '_blank', rel: 'noreferrer' } }),
      ),
      h('td', { text: warning.Category.toUpperCase() }),
      h('td', { class: 'num', text: percent(warning.Score.Supported) }),
      h('td', { class: 'num', text: percent(warning.Score.Partial) }),
      h('td', { class: 'num', text: percent(warning.Score.Unsupported) }),
    ),
  );
  const head = h(
    'tr',
    {},
    ...['Feature', 'Type', 'Supported', 'Partial', 'Unsupported'].map((label) =>
      h('th', { text: label, attrs: { scope: 'col' } }),
    ),
  );
  return h(
    'div',
    { class: 'html-check' },
    h(
      'p',
      { class: 'check-total' },
      h('strong', { class: 'score', text: percent(check.Total.Supported) }),
      ` supported across mail clients (partial ${percent(check.Total.Partial)}, unsupported ${percent(check.Total.Unsupported)})`,
    ),
    rows.length === 0
      ? h('p', { class: 'muted', text: 'Every feature used is supported by every client.' })
      : h('table', { class: 'headers checks' }, h('thead', {}, head), h('tbody', {}, ...rows)),
  );
}

/** spamd's score and the rules that fired. */
export async function spamPanel(id: string): Promise<HTMLElement> {
  const check = await spamCheck(id);
  if (check.Error) return h('p', { class: 'error', text: check.Error });
  const rows = (check.Rules ?? []).map((rule) =>
    h(
      'tr',
      {},
      h('td', { class: 'num', text: rule.Score.toFixed(1) }),
      h('td', { text: rule.Name }),
      h('td', { text: rule.Description }),
    ),
  );
  return h(
    'div',
    { class: 'spam-check' },
    h(
      'p',
      { class: 'check-total' },
      h('strong', { class: check.IsSpam ? 'score spam' : 'score', text: check.Score.toFixed(1) }),
      check.IsSpam ? ' — spam' : ' — not spam',
    ),
    h('table', { class: 'headers checks' }, h('tbody', {}, ...rows)),
  );
}
