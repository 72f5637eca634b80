/**
 * The release form: relays the open message to recipients the server's release.allowedDomains
 * permits (the server decides; its refusal is shown in the form).
 */
import { release, type Message } from './api.js';
import { h } from './dom.js';

export function openReleaseDialog(message: Message, allowed: string): void {
  const to = h('input', {
    attrs: {
      type: 'text',
      id: 'release-to',
      name: 'to',
      required: '',
      autocomplete: 'off',
      value: message.To.map((a) => a.Address).join(', '),
    },
  });
  const status = h('p', { class: 'release-status', attrs: { role: 'status' } });
  const send = h('button', { class: 'button solid', text: 'Release', attrs: { type: 'submit' } });
  const cancel = h('button', { class: 'button', text: 'Cancel', attrs: { type: 'button' } });
  const form = h(
    'form',
    { class: 'release-form' },
    h('h2', { text: 'Release message' }),
    h('p', { class: 'muted', text: message.Subject || '(no subject)' }),
    h('label', { attrs: { for: 'release-to' }, text: 'To (comma-separated)' }),
    to,
    h('p', { class: 'muted', text: allowed ? `Allowed domains: ${allowed}` : 'Any recipient' }),
    status,
    h('div', { class: 'confirm-actions' }, cancel, send),
  );
  const dialog = h('dialog', { class: 'confirm release', attrs: { 'aria-label': 'Release message' } }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const recipients = to.value
      .split(/[,\s]+/)
      .map((r) => r.trim())
      .filter((r) => r !== '');
    send.disabled = true;
    status.className = 'release-status';
    status.textContent = 'Releasing…';
    release(message.ID, recipients).then(
      () => {
        status.textContent = `Released to ${recipients.join(', ')}`;
        status.classList.add('ok');
        send.hidden = true;
        cancel.textContent = 'Close';
      },
      (error: unknown) => {
        status.textContent = error instanceof Error ? error.message : String(error);
        status.classList.add('error');
        send.disabled = false;
      },
    );
  });
  document.body.appendChild(dialog);
  dialog.showModal();
}
