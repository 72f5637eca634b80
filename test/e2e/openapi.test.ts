import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { openApiPath } from '../../src/http/openapi.js';

/**
 * Every operation in Mailpit's published spec (axllent/mailpit server/ui/api/v1/swagger.json
 * at commit 408b30d59709e3f2ed69c7748d900a2208cfbf9b, 2026-07-20), as "METHOD path".
 */
const MAILPIT_OPERATIONS = [
  'GET /api/v1/chaos',
  'PUT /api/v1/chaos',
  'GET /api/v1/info',
  'GET /api/v1/message/{ID}',
  'GET /api/v1/message/{ID}/headers',
  'GET /api/v1/message/{ID}/html-check',
  'GET /api/v1/message/{ID}/link-check',
  'GET /api/v1/message/{ID}/part/{PartID}',
  'GET /api/v1/message/{ID}/part/{PartID}/thumb',
  'GET /api/v1/message/{ID}/raw',
  'POST /api/v1/message/{ID}/release',
  'GET /api/v1/message/{ID}/sa-check',
  'GET /api/v1/messages',
  'PUT /api/v1/messages',
  'DELETE /api/v1/messages',
  'GET /api/v1/search',
  'DELETE /api/v1/search',
  'POST /api/v1/send',
  'GET /api/v1/tags',
  'PUT /api/v1/tags',
  'PUT /api/v1/tags/{Tag}',
  'DELETE /api/v1/tags/{Tag}',
  'GET /api/v1/webui',
  'GET /view/{ID}.html',
  'GET /view/{ID}.txt',
];

/** A 2x2 red PNG, so the thumbnail route has an image to shrink. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAxAADAA8HAQFoX8sAAAAASUVORK5CYII=';

interface Document {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('OpenAPI document', () => {
  let mail: Mailwharf;
  let base: string;
  let doc: Document;

  beforeAll(async () => {
    mail = await startMailwharf({ config: { http: { enabled: true, port: 0 }, faults: { enabled: true } } });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
    const response = await fetch(`${base}/api/v1/swagger.json`);
    expect(response.status).toBe(200);
    doc = (await response.json()) as Document;
  });
  afterAll(async () => {
    await mail.stop();
  });

  const documented = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );

  it('is OpenAPI 3 and the same at both addresses', async () => {
    expect(doc.openapi).toMatch(/^3\.0\./);
    expect(doc.servers).toEqual([{ url: '/' }]);
    const ours = (await (await fetch(`${base}/api/mailwharf/openapi.json`)).json()) as Document;
    expect(ours).toEqual(doc);
  });

  it('lists every route the server registers, and nothing it does not', () => {
    const registered = mail.server.http?.registeredRoutes().map((route) => {
      const [method = '', url = ''] = route.split(' ');
      return `${method} ${openApiPath(url)}`;
    });
    expect(registered?.length).toBeGreaterThan(30);
    expect([...new Set(registered)].sort()).toEqual([...documented()].sort());
  });

  it('covers every path and method in Mailpit’s published spec', () => {
    const missing = MAILPIT_OPERATIONS.filter((operation) => !documented().includes(operation));
    expect(missing).toEqual([]);
  });

  it('points every $ref at a schema it defines', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const name of refs) expect(doc.components.schemas, name).toHaveProperty(name ?? '');
  });

  it('has every documented operation answer (no 404) for a message that exists', async () => {
    const sent = await fetch(`${base}/api/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        From: { Email: 'app@example.com' },
        To: [{ Email: 'dev@example.org' }],
        Subject: 'OpenAPI walk',
        Text: 'see https://example.invalid/',
        HTML: '<p>Hello</p>',
        Tags: ['walk'],
        Attachments: [{ Filename: 'dot.png', ContentType: 'image/png', Content: PNG }],
      }),
    });
    expect(sent.status).toBe(200);
    const { ID } = (await sent.json()) as { ID: string };
    const message = (await (await fetch(`${base}/api/v1/message/${ID}`)).json()) as {
      Attachments: { PartID: string }[];
    };
    const values: Record<string, string> = {
      ID,
      PartID: message.Attachments[0]?.PartID ?? '',
      Tag: 'walk',
      File: 'favicon.svg',
    };
    // Deletions last, so every other operation still finds the message.
    const operations = documented().sort(
      (a, b) => Number(a.startsWith('DELETE')) - Number(b.startsWith('DELETE')),
    );
    const answers: Record<string, number> = {};
    for (const operation of operations) {
      const [method = '', path = ''] = operation.split(' ');
      const url = path.replace(/\{(\w+)\}/g, (_whole, name: string) => values[name] ?? '');
      const query =
        path === '/api/v1/search' ? '?query=walk' : path === '/api/mailwharf/wait' ? '?timeout=100' : '';
      const hasBody = method !== 'GET' && !(method === 'DELETE' && path.includes('{'));
      const response = await fetch(`${base}${url}${query}`, {
        method,
        ...(hasBody ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
      });
      await response.arrayBuffer();
      answers[operation] = response.status;
      // A status the document names for this operation (404 only where it is documented).
      expect(Object.keys(doc.paths[path]?.[method.toLowerCase()]?.responses ?? {}), operation).toContain(
        String(response.status),
      );
    }
    expect(Object.entries(answers).filter(([, status]) => status === 404)).toEqual([]);
    expect(Object.keys(answers).length).toBe(documented().length);
  });
});
