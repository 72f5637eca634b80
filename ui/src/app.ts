/**
 * mailwharf's web UI: wires the list, the message view, search and the live feed together,
 * and keeps the address in step: ?q=search&page=N for the list, #/m/ID for the open message,
 * so Back, Forward, reload and shared links all show the same thing.
 */
import * as api from './api.js';
import { byId } from './dom.js';
import { connectEvents, type LiveEvent } from './events.js';
import { MessageList, messageHref } from './list.js';
import { Notifier } from './notify.js';
import { renderPager } from './pager.js';
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
const pager = byId('pager');
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
/** The page shown, from 1. */
let page = 1;

/** The list's part of the address: ?q= and ?page= (page 1 and no search are left out). */
function readAddress(): { query: string; page: number } {
  const params = new URLSearchParams(location.search);
  const number = Number(params.get('page'));
  return { query: (params.get('q') ?? '').trim(), page: Number.isInteger(number) && number > 1 ? number : 1 };
}

function listAddress(query: string, pageNumber: number): string {
  const params = new URLSearchParams();
  if (query) params.set('q', query);
  if (pageNumber > 1) params.set('page', String(pageNumber));
  const search = params.toString();
  return `${location.pathname}${search ? `?${search}` : ''}${location.hash}`;
}

/** A new search or page: a new history entry, then the list for it. */
function showList(query: string, pageNumber: number): void {
  page = pageNumber;
  const target = listAddress(query, pageNumber);
  if (target !== location.pathname + location.search + location.hash) history.pushState(null, '', target);
  void reload();
}

const search = new SearchBox((query) => {
  showList(query, 1);
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
  tagsChanged(id, tags) {
    list.setTags(id, tags);
  },
  failed(message) {
    showListError(message);
  },
});

const notifier = new Notifier((id) => {
  navigate(id);
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
  const pages = Math.ceil(matching / PAGE_SIZE);
  renderPager(pager, page, pages, (next) => {
    showList(search.query, next);
  });
  deleteAllButton.textContent = search.query ? 'Delete results' : 'Delete all';
  deleteAllButton.disabled = matching === 0;
  markAllButton.disabled = unread === 0;
}

function fetchPage(): Promise<api.MessagesPage> {
  const start = (page - 1) * PAGE_SIZE;
  return search.query ? api.search(search.query, start, PAGE_SIZE) : api.listMessages(start, PAGE_SIZE);
}

/** Loads the first page afresh (start, search change, reconnect). */
async function reload(): Promise<void> {
  const token = ++loadToken;
  pending ??= [];
  try {
    const result = await fetchPage();
    if (token !== loadToken) return;
    list.replace(result.messages);
    list.select(view.id);
    matching = result.messages_count;
    total = result.total;
    unread = result.unread;
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
      } else if (page > 1) {
        // Older pages shift by one; the page keeps its rows until it is loaded again.
        matching++;
      } else if (!list.has(event.Data.ID)) {
        list.prepend(event.Data);
        list.trim(PAGE_SIZE);
        matching++;
      }
      break;
    case 'stats':
      total = event.Data.Total;
      unread = event.Data.Unread;
      if (!search.query) matching = total;
      break;
    case 'update':
      if (event.Data.Read !== undefined) list.setRead(event.Data.ID, event.Data.Read);
      // Tags changed by another client (or a rule once the body was indexed).
      if (event.Data.Tags !== undefined) {
        list.setTags(event.Data.ID, event.Data.Tags);
        view.tagsUpdated(event.Data.ID, event.Data.Tags);
      }
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
    } else {
      await api.deleteAll();
    }
    showList(query, 1);
    navigate(undefined);
  });
});
deleteAllButton.addEventListener('click', confirmDelete);
markAllButton.addEventListener('click', () => {
  void run(() => api.markAllRead(search.query || undefined));
});

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

/** Back or Forward: the list follows the address, then the open message does. */
window.addEventListener('popstate', () => {
  const wanted = readAddress();
  if (wanted.query !== search.query || wanted.page !== page) {
    search.set(wanted.query);
    page = wanted.page;
    void reload();
  }
  route();
});
window.addEventListener('hashchange', route);
setupTheme();
const initial = readAddress();
search.set(initial.query);
page = initial.page;
renderCounts();
// The open message waits for what the server offers (release, SpamAssassin): its buttons and tabs depend on it.
void api
  .webui()
  .then(
    (features) => {
      view.configure(features);
    },
    () => undefined,
  )
  .then(route);

connectEvents({
  event(event) {
    if (event.Type === 'new') notifier.arrived(event.Data);
    apply(event);
  },
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
