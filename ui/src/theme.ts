/** Light, dark, or the system's choice (prefers-color-scheme), remembered in localStorage. */
import { byId } from './dom.js';

type Theme = 'auto' | 'light' | 'dark';

const KEY = 'mailwharf.theme';
const NEXT: Record<Theme, Theme> = { auto: 'light', light: 'dark', dark: 'auto' };
const ICON: Record<Theme, string> = { auto: '◐', light: '☀', dark: '☾' };
const LABEL: Record<Theme, string> = {
  auto: 'Theme: system (click for light)',
  light: 'Theme: light (click for dark)',
  dark: 'Theme: dark (click for system)',
};

function stored(): Theme {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'light' || value === 'dark' ? value : 'auto';
  } catch {
    return 'auto';
  }
}

function apply(theme: Theme, button: HTMLButtonElement): void {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  button.textContent = ICON[theme];
  button.title = LABEL[theme];
  button.setAttribute('aria-label', LABEL[theme]);
}

export function setupTheme(): void {
  const button = byId('theme-toggle', HTMLButtonElement);
  let theme = stored();
  apply(theme, button);
  button.addEventListener('click', () => {
    theme = NEXT[theme];
    try {
      if (theme === 'auto') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, theme);
    } catch {
      // Storage may be off; the choice then lasts for this page only.
    }
    apply(theme, button);
  });
}
