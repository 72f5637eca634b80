/**
 * mailwharf's web UI: wires the list, the message view, search and the live feed together,
 * and keeps the address (#/m/ID) in step with the open message.
 */
import * as api from './api.js';
import { byId } from './dom.js';
import { connectEvents, type LiveEvent } from './events.js';
import { MessageList, messageHref } from './list.js';
import { SearchBox } from './search.js';
import { setupTheme } from './theme.js';
import { MessageView } from './view.js';

const PAGE_SIZE = 50;
const TITLE = 'mailwharf';

const app = byId('app');
const list = new MessageList(byId('messages', HTMLUListElement), byId('list-empty'));
const countLabel = byId('count');
const unreadBadge = byId('unread');
const liveLabel = byId('live');
const loadMore = byId('load-more', HTMLButtonElement);
const deleteAllButton = byId('delete-all', HTMLButtonElement);
const markAllButton = byId('mark-all-read', HTMLButtonElement);
const confirmDialog = byId('confirm', HTMLDialogElement);
const confirmText = byId('confirm-text');
const listError = byId('list-error');

/** Messages the current list or search matches on the server, and the server's totals. */
let matching = 0;
let unread = 0;
let total = 0;
/** Live events that arrive while a page is loading wait for it, so none is lost or undone. */
let pending: LiveEvent[] | undefined;
let loadToken = 0;
let researchTimer: number | undefined;

const search = new SearchBox(() => {
  void reload();
});

const view = new MessageView(byId('view'), {
  opened(message) {
    list.setRead(message.ID, true);
  },
  delete(id) {
    void run(async () => {
      await api.deleteMessages([id]);
      removeRow(id);
      navigate(undefined);
    });
  },
  markUnread(id) {
    void run(async () => {
      await api.setRead([id], false);
      list.setRead(id, false);
      navigate(undefined);
    });
  },
  back() {
    navigate(undefined);
  },
});

/** Runs a user action; a failure is shown above the list rather than lost. */
async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
    showListError(undefined);
  } catch (error) {
    showListError(error instanceof Error ? error.message : String(error));
  }
}

function showListError(message: string | undefined): void {
  listError.textContent = message ?? '';
  listError.hidden = message === undefined;
}

function renderCounts(): void {
  const noun = search.query ? 'result' : 'message';
  countLabel.textContent = `${matching} ${noun}${matching === 1 ? '' : 's'}`;
  unreadBadge.textContent = String(unread);
  unreadBadge.hidden = unread === 0;
  unreadBadge.title = `${unread} unread`;
  document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
  loadMore.hidden = list.size >= matching;
  deleteAllButton.textContent = search.query ? 'Delete results' : 'Delete all';
  deleteAllButton.disabled = matching === 0;
  markAllButton.disabled = unread === 0;
}

function fetchPage(start: number): Promise<api.MessagesPage> {
  return search.query ? api.search(search.query, start, PAGE_SIZE) : api.listMessages(start, PAGE_SIZE);
}

/** Loads the first page afresh (start, search change, reconnect). */
async function reload(): Promise<void> {
  const token = ++loadToken;
  pending ??= [];
  try {
    const page = await fetchPage(0);
    if (token !== loadToken) return;
    list.replace(page.messages);
    list.select(view.id);
    matching = page.messages_count;
    total = page.total;
    unread = page.unread;
    search.showError(undefined);
    showListError(undefined);
  } catch (error) {
    if (token !== loadToken) return;
    const message = error instanceof Error ? error.message : String(error);
    if (search.query && error instanceof api.ApiError && error.status === 400) {
      search.showError(message);
      list.clear();
      matching = 0;
    } else {
      showListError(`Could not load messages: ${message}`);
    }
  }
  const queued = pending;
  pending = undefined;
  for (const event of queued) apply(event);
  renderCounts();
}

async function nextPage(): Promise<void> {
  loadMore.disabled = true;
  await run(async () => {
    const page = await fetchPage(list.size);
    list.append(page.messages);
    matching = page.messages_count;
  });
  loadMore.disabled = false;
  renderCounts();
}

function removeRow(id: string): void {
  if (!list.has(id)) return;
  list.remove(id);
  matching = Math.max(0, matching - 1);
}

function apply(event: LiveEvent): void {
  if (pending) {
    pending.push(event);
    return;
  }
  switch (event.Type) {
    case 'new':
      if (search.query) {
        // Only the server knows whether it matches: search again, once for a burst.
        window.clearTimeout(researchTimer);
        researchTimer = window.setTimeout(() => void reload(), 200);
      } else if (!list.has(event.Data.ID)) {
        list.prepend(event.Data);
        matching++;
      }
      break;
    case 'stats':
      total = event.Data.Total;
      unread = event.Data.Unread;
      if (!search.query) matching = total;
      break;
    case 'update':
      list.setRead(event.Data.ID, event.Data.Read);
      break;
    case 'delete':
      removeRow(event.Data.ID);
      if (view.id === event.Data.ID) view.gone();
      break;
    case 'truncate':
      list.clear();
      matching = 0;
      if (view.id !== undefined) view.gone();
      break;
  }
  renderCounts();
}

/** The open message comes from the address, so Back, reload and links all work. */
function route(): void {
  const match = /^#\/m\/(.+)$/.exec(location.hash);
  const id = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
  app.classList.toggle('has-message', id !== undefined);
  list.select(id);
  if (id === undefined) {
    view.clear();
    return;
  }
  if (id !== view.id) void view.show(id);
}

function navigate(id: string | undefined): void {
  const target = id === undefined ? location.pathname + location.search : messageHref(id);
  if (id === undefined && location.hash === '') {
    route();
    return;
  }
  history.pushState(null, '', target);
  route();
}

function confirmDelete(): void {
  confirmText.textContent = search.query
    ? `Delete the ${matching} message${matching === 1 ? '' : 's'} matching “${search.query}”?`
    : `Delete all ${total} message${total === 1 ? '' : 's'}? This cannot be undone.`;
  confirmDialog.returnValue = '';
  confirmDialog.showModal();
}

confirmDialog.addEventListener('close', () => {
  if (confirmDialog.returnValue !== 'delete') return;
  const query = search.query;
  void run(async () => {
    if (query) {
      await api.deleteSearch(query);
      await reload();
    } else {
      await api.deleteAll();
      list.clear();
      matching = 0;
      renderCounts();
    }
    navigate(undefined);
  });
});
deleteAllButton.addEventListener('click', confirmDelete);
markAllButton.addEventListener('click', () => {
  void run(() => api.markAllRead(search.query || undefined));
});
loadMore.addEventListener('click', () => void nextPage());

/** j/k move through the list, / searches, Delete removes the open message. */
document.addEventListener('keydown', (event) => {
  const target = event.target as HTMLElement | null;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target?.closest('input, textarea, select, [contenteditable]')) return;
  if (confirmDialog.open) return;
  if (event.key === '/') {
    event.preventDefault();
    search.focus();
    return;
  }
  if (event.key === 'j' || event.key === 'k') {
    const ids = list.ids();
    const at = view.id === undefined ? -1 : ids.indexOf(view.id);
    const next = ids[event.key === 'j' ? at + 1 : Math.max(at - 1, 0)];
    if (next !== undefined) navigate(next);
    return;
  }
  if (event.key === 'Delete' && view.id !== undefined) {
    const id = view.id;
    void run(async () => {
      await api.deleteMessages([id]);
      removeRow(id);
      navigate(undefined);
    });
  }
});

window.addEventListener('popstate', route);
window.addEventListener('hashchange', route);
setupTheme();
route();
renderCounts();

connectEvents({
  event: apply,
  connected() {
    liveLabel.textContent = 'Live';
    liveLabel.classList.add('on');
    liveLabel.title = 'New mail appears as it arrives';
    void reload();
  },
  disconnected() {
    liveLabel.textContent = 'Offline';
    liveLabel.classList.remove('on');
    liveLabel.title = 'Reconnecting to the server…';
  },
});
