/**
 * Numbered pages under the list: Previous, the first and last page, the pages around the
 * current one (gaps shown as …), Next. Pages count from 1, as the address shows them.
 */
import { h } from './dom.js';
import { pageNumbers } from './page-numbers.js';

export function renderPager(
  root: HTMLElement,
  current: number,
  count: number,
  go: (page: number) => void,
): void {
  root.hidden = count <= 1;
  if (count <= 1) {
    root.replaceChildren();
    return;
  }
  const button = (label: string, page: number, attrs: Record<string, string> = {}) => {
    const element = h('button', { class: 'button small', text: label, attrs: { type: 'button', ...attrs } });
    element.addEventListener('click', () => go(page));
    return element;
  };
  const previous = button('‹ Previous', current - 1, { 'aria-label': 'Previous page' });
  previous.disabled = current <= 1;
  const next = button('Next ›', current + 1, { 'aria-label': 'Next page' });
  next.disabled = current >= count;
  root.replaceChildren(
    previous,
    ...pageNumbers(current, count).map((page) =>
      page === 0
        ? h('span', { class: 'gap', text: '…', attrs: { 'aria-hidden': 'true' } })
        : button(String(page), page, {
            'aria-label': `Page ${String(page)}`,
            ...(page === current ? { 'aria-current': 'page' } : {}),
          }),
    ),
    next,
  );
}
