/**
 * Tag chips, and the editor in the message view: × removes a tag, the field adds one
 * (Enter or comma), suggesting the tags already in use. Each change is saved at once with
 * Mailpit's PUT /api/v1/tags, then shown.
 */
import { allTags, setTags } from './api.js';
import { h } from './dom.js';

export function tagChips(tags: readonly string[]): HTMLElement | null {
  if (tags.length === 0) return null;
  return h('span', { class: 'tags' }, ...tags.map((tag) => h('span', { class: 'tag', text: tag })));
}

/** Mailpit's rule: letters, digits, '-', '.', '_', '@' and spaces; the server cleans the same way. */
function cleanTag(tag: string): string {
  return tag
    .replace(/[^a-zA-Z0-9\-._@ ]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export function tagEditor(
  messageId: string,
  initial: readonly string[],
  saved: (tags: readonly string[]) => void,
  failed: (message: string) => void,
): HTMLElement {
  let tags = [...initial];
  const chips = h('span', { class: 'tags' });
  const input = h('input', {
    class: 'tag-input',
    attrs: { type: 'text', placeholder: 'Add tag', 'aria-label': 'Add tag', list: 'tag-suggestions' },
  });
  const suggestions = h('datalist', { attrs: { id: 'tag-suggestions' } });

  const save = async (next: string[]) => {
    try {
      await setTags(messageId, next);
      tags = next;
      render();
      saved(tags);
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
    }
  };
  const render = () => {
    chips.replaceChildren(
      ...tags.map((tag) => {
        const remove = h('button', {
          class: 'tag-remove',
          text: '×',
          attrs: { type: 'button', 'aria-label': `Remove tag ${tag}` },
        });
        remove.addEventListener('click', () => void save(tags.filter((t) => t !== tag)));
        return h('span', { class: 'tag' }, tag, remove);
      }),
    );
  };
  const add = () => {
    const tag = cleanTag(input.value);
    input.value = '';
    if (tag === '' || tags.includes(tag)) return;
    void save([...tags, tag]);
  };
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' && event.key !== ',') return;
    event.preventDefault();
    add();
  });
  input.addEventListener(
    'focus',
    () => {
      allTags().then(
        (all) => suggestions.replaceChildren(...all.map((tag) => h('option', { attrs: { value: tag } }))),
        () => undefined,
      );
    },
    { once: true },
  );
  render();
  return h('span', { class: 'tag-editor' }, chips, input, suggestions);
}
