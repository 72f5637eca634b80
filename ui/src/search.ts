/**
 * The search box: the server's search syntax (from:, subject:, is:unread, "phrases", -not …),
 * applied as you type (debounced), at once on Enter, cleared with Escape or ×.
 */
import { byId } from './dom.js';

const DEBOUNCE_MS = 250;

export class SearchBox {
  private readonly input = byId('search', HTMLInputElement);
  private readonly clearButton = byId('search-clear', HTMLButtonElement);
  private readonly error = byId('search-error');
  private timer: number | undefined;
  private applied = '';

  constructor(private readonly changed: (query: string) => void) {
    const form = byId('search-form', HTMLFormElement);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.apply();
    });
    this.input.addEventListener('input', () => {
      this.clearButton.hidden = this.input.value === '';
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.apply(), DEBOUNCE_MS);
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      this.clear();
      this.input.blur();
    });
    this.clearButton.addEventListener('click', () => {
      this.clear();
      this.input.focus();
    });
  }

  /** The query in force (trimmed; '' when not searching). */
  get query(): string {
    return this.applied;
  }

  /** Shows and applies a query from the address (Back, Forward, a link) without a change event. */
  set(query: string): void {
    window.clearTimeout(this.timer);
    this.input.value = query;
    this.clearButton.hidden = query === '';
    this.applied = query.trim();
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  clear(): void {
    this.input.value = '';
    this.clearButton.hidden = true;
    this.apply();
  }

  showError(message: string | undefined): void {
    this.error.textContent = message ?? '';
    this.error.hidden = message === undefined;
    this.input.toggleAttribute('aria-invalid', message !== undefined);
  }

  private apply(): void {
    window.clearTimeout(this.timer);
    const query = this.input.value.trim();
    if (query === this.applied) return;
    this.applied = query;
    this.changed(query);
  }
}
