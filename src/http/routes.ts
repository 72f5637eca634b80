/** Every HTTP route in one table (as Mailpit's server.go), handlers one file per resource. */
import { getAuthentication, getHtmlCheck, getThumbnail, linkCheck, saCheck } from './api/checks.js';
import { addFault, clearFaults, listFaults } from './api/faults.js';
import { getChaos, info, openApi, setChaos, webui } from './api/info.js';
import {
  getEnvelope,
  getExtracted,
  getHeaders,
  getMessage,
  getPart,
  getRaw,
  release,
} from './api/message.js';
import { deleteMessages, deleteSearch, listMessages, search, setRead } from './api/messages.js';
import { send, sendBodyLimit } from './api/send.js';
import { deleteTag, listTags, renameTag, setTags } from './api/tags.js';
import { viewHtml, viewText } from './api/view.js';
import { wait } from './api/wait.js';
import type { Route } from './context.js';

export const routes: readonly Route[] = [
  // Mailpit API v1
  { method: 'GET', url: '/api/v1/messages', handler: listMessages },
  { method: 'PUT', url: '/api/v1/messages', handler: setRead },
  { method: 'DELETE', url: '/api/v1/messages', handler: deleteMessages },
  { method: 'GET', url: '/api/v1/search', handler: search },
  { method: 'DELETE', url: '/api/v1/search', handler: deleteSearch },
  { method: 'GET', url: '/api/v1/message/:id', handler: getMessage },
  { method: 'GET', url: '/api/v1/message/:id/headers', handler: getHeaders },
  { method: 'GET', url: '/api/v1/message/:id/raw', handler: getRaw },
  { method: 'GET', url: '/api/v1/message/:id/part/:partId', handler: getPart },
  { method: 'GET', url: '/api/v1/message/:id/part/:partId/thumb', handler: getThumbnail },
  { method: 'GET', url: '/api/v1/message/:id/html-check', handler: getHtmlCheck },
  { method: 'GET', url: '/api/v1/message/:id/link-check', handler: linkCheck },
  { method: 'GET', url: '/api/v1/message/:id/sa-check', handler: saCheck },
  { method: 'POST', url: '/api/v1/message/:id/release', handler: release },
  { method: 'POST', url: '/api/v1/send', handler: send, bodyLimit: sendBodyLimit },
  { method: 'GET', url: '/api/v1/tags', handler: listTags },
  { method: 'PUT', url: '/api/v1/tags', handler: setTags },
  { method: 'PUT', url: '/api/v1/tags/:tag', handler: renameTag },
  { method: 'DELETE', url: '/api/v1/tags/:tag', handler: deleteTag },
  { method: 'GET', url: '/api/v1/info', handler: info },
  { method: 'GET', url: '/api/v1/webui', handler: webui },
  { method: 'GET', url: '/api/v1/chaos', handler: getChaos },
  { method: 'PUT', url: '/api/v1/chaos', handler: setChaos },
  { method: 'GET', url: '/api/v1/swagger.json', handler: openApi },
  { method: 'GET', url: '/view/:id.html', handler: viewHtml },
  { method: 'GET', url: '/view/:id.txt', handler: viewText },
  // mailwharf extensions
  { method: 'GET', url: '/api/mailwharf/wait', handler: wait },
  { method: 'GET', url: '/api/mailwharf/message/:id/envelope', handler: getEnvelope },
  { method: 'GET', url: '/api/mailwharf/message/:id/extract', handler: getExtracted },
  { method: 'GET', url: '/api/mailwharf/message/:id/auth', handler: getAuthentication },
  { method: 'GET', url: '/api/mailwharf/faults', handler: listFaults },
  { method: 'POST', url: '/api/mailwharf/faults', handler: addFault },
  { method: 'DELETE', url: '/api/mailwharf/faults', handler: clearFaults },
  { method: 'GET', url: '/api/mailwharf/openapi.json', handler: openApi },
];
