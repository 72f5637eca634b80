/**
 * One message: its header, attachments, and tabs (HTML in a sandboxed frame, text, headers,
 * raw source, and what the SMTP session knew). Tabs load on first use.
 */
import {
  getAuth,
  getEnvelope,
  getHeaders,
  getMessage,
  getRaw,
  linkCheck,
  urls,
  type Address,
  type Attachment,
  type AuthReport,
  type EnvelopeFacts,
  type HeaderMap,
  type Message,
  type WebUiConfig,
} from './api.js';
import { h, type Child } from './dom.js';
import { address, longTime, size } from './format.js';
import { htmlCheckPanel, sourcePanel, spamPanel } from './panels.js';
import { openReleaseDialog } from './release.js';
import { tagEditor } from './tags.js';

/** No allow-scripts and no allow-same-origin: mail HTML can run nothing and reach nothing. */
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

type TabName =
  'html' | 'source' | 'text' | 'headers' | 'raw' | 'envelope' | 'auth' | 'htmlcheck' | 'links' | 'spam';

const TAB_LABELS: Record<TabName, string> = {
  html: 'HTML',
  source: 'HTML source',
  text: 'Text',
  headers: 'Headers',
  raw: 'Raw',
  envelope: 'Envelope',
  auth: 'Authentication',
  htmlcheck: 'HTML check',
  links: 'Link check',
  spam: 'Spam',
};

/** Preview widths: a common phone and tablet portrait width, and the pane's own. */
const DEVICES = [
  { name: 'phone', label: 'Phone', width: '375px' },
  { name: 'tablet', label: 'Tablet', width: '768px' },
  { name: 'desktop', label: 'Desktop', width: '' },
] as const;

export interface ViewHandlers {
  opened(message: Message): void;
  delete(id: string): void;
  markUnread(id: string): void;
  back(): void;
  tagsChanged(id: string, tags: readonly string[]): void;
  failed(message: string): void;
}

function addresses(list: readonly Address[]): string {
  return list.map(address).join(', ');
}

function metaRow(label: string, value: string | Node): HTMLElement[] {
  return [h('dt', { text: label }), h('dd', {}, value)];
}

function factsList(rows: readonly (readonly [string, string])[]): HTMLDListElement {
  return h('dl', { class: 'facts' }, ...rows.flatMap(([label, value]) => metaRow(label, value)));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class MessageView {
  private token = 0;
  private current: string | undefined;
  /** What the server offers (release, SpamAssassin), once known. */
  private features: WebUiConfig | undefined;
  /** The open message's tag editor and the tags it shows. */
  private tagSlot: { element: HTMLElement; tags: readonly string[] } | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly handlers: ViewHandlers,
  ) {
    this.clear();
  }

  get id(): string | undefined {
    return this.current;
  }

  configure(features: WebUiConfig): void {
    this.features = features;
  }

  clear(): void {
    this.token++;
    this.current = undefined;
    this.root.replaceChildren(
      h(
        'div',
        { class: 'placeholder' },
        h('div', { class: 'placeholder-icon', text: '✉', attrs: { 'aria-hidden': 'true' } }),
        h('p', { text: 'Select a message to read it.' }),
      ),
    );
  }

  /** The message was deleted while open. */
  gone(): void {
    this.token++;
    this.current = undefined;
    this.root.replaceChildren(this.notice('This message was deleted.'));
  }

  /** Tags changed elsewhere: the open message's editor shows them (unless it shows them already). */
  tagsUpdated(id: string, tags: readonly string[]): void {
    const slot = this.tagSlot;
    if (id !== this.current || !slot || sameTags(slot.tags, tags)) return;
    slot.element.replaceWith(this.tagEditor(id, tags));
  }

  private tagEditor(id: string, tags: readonly string[]): HTMLElement {
    const slot = {
      tags,
      element: tagEditor(
        id,
        tags,
        (saved) => {
          slot.tags = saved;
          this.handlers.tagsChanged(id, saved);
        },
        (problem) => this.handlers.failed(problem),
      ),
    };
    this.tagSlot = slot;
    return slot.element;
  }

  async show(id: string): Promise<void> {
    const token = ++this.token;
    this.current = id;
    this.root.replaceChildren(h('div', { class: 'placeholder', text: 'Loading…' }));
    let message: Message;
    try {
      message = await getMessage(id);
    } catch (error) {
      if (token === this.token) this.root.replaceChildren(this.notice(describeError(error)));
      return;
    }
    if (token !== this.token) return;
    this.render(message, token);
    this.handlers.opened(message);
  }

  private notice(text: string): HTMLElement {
    const back = h('button', { class: 'button back', text: '← Inbox', attrs: { type: 'button' } });
    back.addEventListener('click', () => this.handlers.back());
    return h(
      'div',
      { class: 'message-view' },
      h('div', { class: 'view-toolbar' }, back),
      h('p', { class: 'placeholder', text }),
    );
  }

  private render(message: Message, token: number): void {
    const back = h('button', { class: 'button back', text: '← Inbox', attrs: { type: 'button' } });
    back.addEventListener('click', () => this.handlers.back());
    const unread = h('button', { class: 'button', text: 'Mark unread', attrs: { type: 'button' } });
    unread.addEventListener('click', () => this.handlers.markUnread(message.ID));
    const remove = h('button', { class: 'button danger', text: 'Delete', attrs: { type: 'button' } });
    remove.addEventListener('click', () => this.handlers.delete(message.ID));
    const relay = this.features?.MessageRelay;
    const releaseButton = relay?.Enabled
      ? h('button', { class: 'button', text: 'Release', attrs: { type: 'button' } })
      : null;
    releaseButton?.addEventListener('click', () =>
      openReleaseDialog(message, relay?.AllowedRecipients ?? ''),
    );
    const download = h(
      'a',
      {
        class: 'button',
        attrs: { href: urls.rawDownload(message.ID), download: '', title: 'Download .eml' },
      },
      h('span', { class: 'icon-download', attrs: { 'aria-hidden': 'true' } }),
      h('span', { class: 'wide', text: 'Download .eml' }),
      h('span', { class: 'narrow', text: '.eml' }),
    );

    const meta = h(
      'dl',
      { class: 'meta' },
      ...metaRow('From', address(message.From) || '(none)'),
      ...metaRow('To', addresses(message.To) || '(none)'),
      ...(message.Cc.length > 0 ? metaRow('Cc', addresses(message.Cc)) : []),
      ...(message.Bcc.length > 0 ? metaRow('Bcc', addresses(message.Bcc)) : []),
      ...(message.ReplyTo.length > 0 ? metaRow('Reply-To', addresses(message.ReplyTo)) : []),
      ...metaRow('Date', longTime(message.Date)),
      ...metaRow('Size', size(message.Size)),
      ...metaRow('Tags', this.tagEditor(message.ID, message.Tags)),
    );

    const tabs: TabName[] = [
      ...(message.HTML ? (['html', 'source'] as const) : []),
      'text',
      'headers',
      'raw',
      'envelope',
      'auth',
      ...(message.HTML ? (['htmlcheck'] as const) : []),
      'links',
      ...(this.features?.SpamAssassin ? (['spam'] as const) : []),
    ];
    const tabList = h('div', { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Message parts' } });
    const panels = h('div', { class: 'panels' });
    const buttons = new Map<TabName, HTMLButtonElement>();
    const sections = new Map<TabName, HTMLElement>();
    const loaded = new Set<TabName>();

    const select = (name: TabName, focus = false): void => {
      for (const [tab, button] of buttons) {
        const active = tab === name;
        button.setAttribute('aria-selected', String(active));
        button.tabIndex = active ? 0 : -1;
        const section = sections.get(tab);
        if (section) section.hidden = !active;
      }
      if (focus) buttons.get(name)?.focus();
      if (loaded.has(name)) return;
      loaded.add(name);
      const section = sections.get(name);
      if (section) void this.fill(name, message, section, token);
    };

    for (const name of tabs) {
      const button = h('button', {
        class: 'tab',
        text: TAB_LABELS[name],
        attrs: { type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': `panel-${name}` },
      });
      button.addEventListener('click', () => select(name));
      button.addEventListener('keydown', (event) => {
        const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
        if (step === 0) return;
        const next = tabs[(tabs.indexOf(name) + step + tabs.length) % tabs.length];
        if (next) select(next, true);
      });
      buttons.set(name, button);
      tabList.appendChild(button);
      const section = h('section', {
        class: `panel panel-${name}`,
        attrs: { role: 'tabpanel', id: `panel-${name}`, 'aria-labelledby': `tab-${name}` },
      });
      sections.set(name, section);
      panels.appendChild(section);
    }

    this.root.replaceChildren(
      h(
        'article',
        { class: 'message-view' },
        h(
          'div',
          { class: 'view-toolbar' },
          back,
          h('span', { class: 'spacer' }),
          releaseButton,
          unread,
          download,
          remove,
        ),
        h(
          'header',
          { class: 'message-head' },
          h('h2', { class: 'message-subject', text: message.Subject || '(no subject)' }),
          meta,
        ),
        this.attachments(message),
        tabList,
        panels,
      ),
    );
    // Each message opens on its first tab: a check chosen for one message is not run for the next.
    select(tabs[0] ?? 'text');
  }

  private attachments(message: Message): HTMLElement | null {
    if (message.Attachments.length === 0) return null;
    return h(
      'div',
      { class: 'attachments', attrs: { 'aria-label': 'Attachments' } },
      ...message.Attachments.map((attachment: Attachment) =>
        h(
          'a',
          {
            class: 'attachment',
            attrs: {
              href: urls.part(message.ID, attachment.PartID),
              download: attachment.FileName,
              title: `${attachment.ContentType}, ${size(attachment.Size)}`,
            },
          },
          attachment.ContentType.startsWith('image/')
            ? h('img', {
                class: 'thumb',
                attrs: { src: urls.thumb(message.ID, attachment.PartID), alt: '', width: '90', height: '60' },
              })
            : h('span', { class: 'clip', attrs: { 'aria-hidden': 'true' } }),
          h('span', { class: 'name', text: attachment.FileName || `part ${attachment.PartID}` }),
          h('span', { class: 'size', text: size(attachment.Size) }),
        ),
      ),
    );
  }

  private async fill(name: TabName, message: Message, section: HTMLElement, token: number): Promise<void> {
    if (name === 'html') {
      section.replaceChildren(...this.htmlPanel(message.ID));
      return;
    }
    if (name === 'text') {
      section.replaceChildren(
        message.Text
          ? h('pre', { class: 'body-text', text: message.Text })
          : h('p', { class: 'muted', text: 'This message has no text part.' }),
      );
      return;
    }
    if (name === 'links') {
      section.replaceChildren(this.linksPanel(message.ID));
      return;
    }
    if (name === 'source') {
      section.replaceChildren(sourcePanel(message.HTML));
      return;
    }
    section.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
    let content: Child;
    try {
      if (name === 'headers') content = this.headersTable(await getHeaders(message.ID));
      else if (name === 'raw') content = h('pre', { class: 'raw', text: await getRaw(message.ID) });
      else if (name === 'auth') content = this.authPanel(await getAuth(message.ID));
      else if (name === 'htmlcheck') content = await htmlCheckPanel(message.ID);
      else if (name === 'spam') content = await spamPanel(message.ID);
      else content = this.envelope(await getEnvelope(message.ID));
    } catch (error) {
      content = h('p', { class: 'error', text: describeError(error) });
    }
    if (token === this.token) section.replaceChildren(content);
  }

  private htmlPanel(id: string): HTMLElement[] {
    const frame = h('iframe', {
      class: 'html-frame',
      // sandbox before src: the first load is already sandboxed.
      attrs: { sandbox: FRAME_SANDBOX, referrerpolicy: 'no-referrer', title: 'Message HTML' },
    });
    frame.src = urls.html(id, false);
    const toggle = h('input', { attrs: { type: 'checkbox', id: 'remote-images' } });
    toggle.addEventListener('change', () => {
      frame.src = urls.html(id, toggle.checked);
    });
    const label = h(
      'label',
      { class: 'toggle', attrs: { for: 'remote-images' } },
      toggle,
      h('span', { text: 'Load remote images' }),
    );
    const devices = h('span', { class: 'devices', attrs: { role: 'group', 'aria-label': 'Preview width' } });
    const holder = h('div', { class: 'frame-holder' }, frame);
    for (const device of DEVICES) {
      const button = h('button', {
        class: 'button small',
        text: device.label,
        attrs: {
          type: 'button',
          'aria-pressed': String(device.name === 'desktop'),
          title: device.width || 'Full width',
        },
      });
      button.addEventListener('click', () => {
        for (const other of devices.children) other.setAttribute('aria-pressed', String(other === button));
        holder.dataset.device = device.name;
      });
      devices.appendChild(button);
    }
    holder.dataset.device = 'desktop';
    return [h('div', { class: 'html-tools' }, label, h('span', { class: 'spacer' }), devices), holder];
  }

  private headersTable(headers: HeaderMap): HTMLElement {
    const rows = Object.entries(headers).flatMap(([name, values]) =>
      values.map((value) =>
        h('tr', {}, h('th', { text: name, attrs: { scope: 'row' } }), h('td', { text: value })),
      ),
    );
    return h('table', { class: 'headers' }, h('tbody', {}, ...rows));
  }

  private envelope(facts: EnvelopeFacts): HTMLElement {
    const tls = facts.TLS ? `${facts.TLS.Version}, ${facts.TLS.Cipher}` : 'none (plain text)';
    return factsList([
      ['MAIL FROM', facts.MailFrom || '<> (null sender)'],
      ['RCPT TO', facts.RcptTo.join(', ')],
      ['HELO', facts.Helo],
      ['Client', `${facts.ClientAddress}:${facts.ClientPort}`],
      ['Listener', `${facts.Listener} (port ${facts.ListenerPort})`],
      ['TLS', tls],
      ['AUTH user', facts.AuthUser ?? 'none'],
      ['SMTPUTF8', facts.SMTPUTF8 ? 'yes' : 'no'],
      ['Received', longTime(facts.ReceivedAt)],
    ]);
  }

  /** DKIM, SPF, DMARC and ARC as a receiver would judge them, each with its reason. */
  private authPanel(report: AuthReport): HTMLElement {
    const verdict = (result: string, comment: string) =>
      h(
        'span',
        {},
        h('span', { class: `verdict verdict-${result}`, text: result }),
        comment ? h('span', { class: 'muted', text: ` ${comment}` }) : null,
      );
    const rows: HTMLElement[] = [
      ...(report.DKIM.length === 0
        ? metaRow('DKIM', verdict('none', 'message not signed'))
        : report.DKIM.flatMap((signature) =>
            metaRow(
              `DKIM d=${signature.Domain} s=${signature.Selector}`,
              verdict(
                signature.Result,
                `${signature.Comment}${signature.Aligned ? ' (aligned with From)' : ''}`,
              ),
            ),
          )),
      ...metaRow(
        'SPF',
        verdict(report.SPF.Result, `${report.SPF.Sender || '<>'} from ${report.SPF.ClientAddress}`),
      ),
      ...metaRow(
        'DMARC',
        verdict(report.DMARC.Result, report.DMARC.Policy ? `policy ${report.DMARC.Policy}` : ''),
      ),
      ...metaRow('ARC', verdict(report.ARC.Result, report.ARC.Comment)),
    ];
    return h(
      'div',
      { class: 'auth-report' },
      h('dl', { class: 'facts auth' }, ...rows),
      h('pre', { class: 'raw', text: report.Headers }),
    );
  }

  /** Checking links makes requests to the links' hosts, so it runs only when asked. */
  private linksPanel(id: string): HTMLElement {
    const follow = h('input', { attrs: { type: 'checkbox', id: 'follow-redirects' } });
    const run = h('button', { class: 'button', text: 'Check links', attrs: { type: 'button' } });
    const results = h('div', { class: 'link-results' });
    run.addEventListener('click', () => {
      results.replaceChildren(h('p', { class: 'muted', text: 'Checking…' }));
      linkCheck(id, follow.checked).then(
        (check) => {
          const rows = check.Links.map((link) =>
            h(
              'tr',
              { class: link.StatusCode === 0 || link.StatusCode >= 400 ? 'link-bad' : 'link-ok' },
              h('td', { text: link.StatusCode === 0 ? '—' : String(link.StatusCode) }),
              h('td', { text: link.Status }),
              h('td', { text: link.URL }),
            ),
          );
          results.replaceChildren(
            h('p', { text: `${String(check.Links.length)} links, ${String(check.Errors)} errors` }),
            h('table', { class: 'headers links' }, h('tbody', {}, ...rows)),
          );
        },
        (error: unknown) => {
          results.replaceChildren(h('p', { class: 'error', text: describeError(error) }));
        },
      );
    });
    const label = h(
      'label',
      { class: 'toggle', attrs: { for: 'follow-redirects' } },
      follow,
      h('span', { text: 'Follow redirects' }),
    );
    return h('div', {}, h('div', { class: 'html-tools' }, run, label), results);
  }
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag) => b.includes(tag));
}
