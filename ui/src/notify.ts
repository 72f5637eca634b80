/**
 * Browser notifications of new mail, off until the user turns them on: the permission is
 * asked only from that click (browsers ignore or penalise a prompt nobody asked for). The
 * choice is remembered in localStorage; a second click turns them off.
 */
import type { MessageSummary } from './api.js';
import { byId } from './dom.js';
import { senderName } from './format.js';

const KEY = 'mailwharf.notify';

export class Notifier {
  private readonly button = byId('notify', HTMLButtonElement);
  private enabled = false;

  constructor(private readonly open: (id: string) => void) {
    if (!('Notification' in window)) {
      this.button.hidden = true;
      return;
    }
    this.enabled = Notification.permission === 'granted' && this.stored();
    this.render();
    this.button.addEventListener('click', () => void this.toggle());
  }

  /** A new message arrived (not one found by a reload). */
  arrived(message: MessageSummary): void {
    if (!this.enabled || Notification.permission !== 'granted') return;
    const note = new Notification(message.Subject || '(no subject)', {
      body: `From ${senderName(message.From)}`,
      tag: message.ID,
    });
    note.addEventListener('click', () => {
      window.focus();
      this.open(message.ID);
      note.close();
    });
  }

  private async toggle(): Promise<void> {
    if (this.enabled) {
      this.enabled = false;
    } else {
      const permission =
        Notification.permission === 'default'
          ? await Notification.requestPermission()
          : Notification.permission;
      this.enabled = permission === 'granted';
    }
    try {
      if (this.enabled) localStorage.setItem(KEY, '1');
      else localStorage.removeItem(KEY);
    } catch {
      // Storage may be off: the choice lasts for this page.
    }
    this.render();
  }

  private stored(): boolean {
    try {
      return localStorage.getItem(KEY) === '1';
    } catch {
      return false;
    }
  }

  private render(): void {
    const blocked = Notification.permission === 'denied';
    this.button.setAttribute('aria-pressed', String(this.enabled));
    this.button.title = blocked
      ? 'Notifications are blocked in this browser’s site settings'
      : this.enabled
        ? 'Notifying of new mail (click to stop)'
        : 'Notify me of new mail';
    this.button.setAttribute('aria-label', this.button.title);
  }
}
