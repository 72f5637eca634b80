import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MtaStsPolicies, type StsLookups } from '../../src/mta-sts/policies.js';

/**
 * Policy discovery against a real HTTPS server on loopback whose certificate (made by openssl)
 * names mta-sts.example.test; the TXT answers come from a table the test changes.
 */
const dir = mkdtempSync(join(tmpdir(), 'mailwharf-mta-sts-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-subj',
    '/CN=mta-sts.example.test',
    '-addext',
    'subjectAltName=DNS:mta-sts.example.test,DNS:mta-sts.fresh.test,DNS:mta-sts.moved.test',
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');

const ENFORCE = 'version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 86400\n';
const files = new Map<string, { status: number; type: string; body: string; location?: string }>();
const requests: string[] = [];
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    requests.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    const file = files.get(req.headers.host ?? '');
    if (!file || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(file.status, {
      'content-type': file.type,
      ...(file.location ? { location: file.location } : {}),
    });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const txt = new Map<string, string[][] | Error>();
const lookups: StsLookups = {
  resolveTxt: (name) => {
    const answer = txt.get(name);
    if (answer instanceof Error) return Promise.reject(answer);
    if (!answer) return Promise.reject(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }));
    return Promise.resolve(answer);
  },
  resolveAddress: () => Promise.resolve('127.0.0.1'),
};
const servfail = (): Error => Object.assign(new Error('query failed'), { code: 'ESERVFAIL' });

describe('MTA-STS policy discovery and cache', () => {
  let clock = Date.parse('2026-11-30T12:00:00Z');
  const now = (): number => clock;
  const policies = (cacheFile?: string, trust: 'test cert' | 'system CAs' = 'test cert') =>
    new MtaStsPolicies(
      lookups,
      { port, ca: trust === 'test cert' ? cert : undefined, timeoutMs: 5000 },
      cacheFile,
      now,
    );

  it('fetches over verified HTTPS, caches by id, refetches when the id changes', async () => {
    txt.set('_mta-sts.example.test', [['v=STSv1; id=one']]);
    files.set('mta-sts.example.test', { status: 200, type: 'text/plain; charset=utf-8', body: ENFORCE });
    const sts = policies();
    requests.length = 0;
    const first = await sts.policyFor('Example.TEST');
    expect(first).toMatchObject({
      source: 'fetched',
      policy: { mode: 'enforce', mx: ['*.example.test'], id: 'one' },
    });
    expect(await sts.policyFor('example.test')).toMatchObject({ source: 'cached', policy: { id: 'one' } });
    expect(requests).toEqual(['mta-sts.example.test/.well-known/mta-sts.txt']);

    txt.set('_mta-sts.example.test', [['v=STSv1; id=two']]);
    files.set('mta-sts.example.test', {
      status: 200,
      type: 'text/plain',
      body: ENFORCE.replace('enforce', 'testing'),
    });
    expect(await sts.policyFor('example.test')).toMatchObject({
      source: 'fetched',
      policy: { mode: 'testing', id: 'two' },
    });
    expect(requests).toHaveLength(2);
  });

  it('keeps a valid cached policy when the TXT record vanishes, DNS fails or the fetch fails; not once it expires', async () => {
    const cacheFile = join(dir, 'sts-cache.json');
    txt.set('_mta-sts.example.test', [['v=STSv1; id=three']]);
    files.set('mta-sts.example.test', { status: 200, type: 'text/plain', body: ENFORCE });
    expect(await policies(cacheFile).policyFor('example.test')).toMatchObject({ source: 'fetched' });

    // A new process (the same cache file) under a DNS failure still enforces.
    txt.set('_mta-sts.example.test', servfail());
    const restarted = policies(cacheFile);
    expect(await restarted.policyFor('example.test')).toMatchObject({
      source: 'cached',
      policy: { mode: 'enforce', id: 'three' },
      error: 'TXT _mta-sts.example.test: ESERVFAIL',
    });
    txt.delete('_mta-sts.example.test');
    expect(await restarted.policyFor('example.test')).toMatchObject({
      source: 'cached',
      policy: { id: 'three' },
    });
    txt.set('_mta-sts.example.test', [['v=STSv1; id=four']]);
    files.set('mta-sts.example.test', { status: 500, type: 'text/plain', body: '' });
    expect(await restarted.policyFor('example.test')).toMatchObject({
      source: 'cached',
      policy: { id: 'three' },
    });

    clock += 86_401_000; // past max_age
    txt.delete('_mta-sts.example.test');
    expect(await restarted.policyFor('example.test')).toEqual({ policy: undefined, source: 'none' });
  });

  it.each([
    [
      'a redirect (§3.3: not followed)',
      { status: 301, type: 'text/plain', body: '', location: 'https://mta-sts.moved.test/' },
      /answered 301/,
    ],
    ['a 404', { status: 404, type: 'text/plain', body: '' }, /answered 404/],
    ['HTML', { status: 200, type: 'text/html', body: ENFORCE }, /answered 200 text\/html/],
    [
      'an invalid policy',
      { status: 200, type: 'text/plain', body: 'version: STSv1\nmode: enforce\n' },
      /max_age is missing/,
    ],
  ])('%s is no policy, with the reason', async (_, file, reason) => {
    txt.set('_mta-sts.fresh.test', [['v=STSv1; id=x']]);
    files.set('mta-sts.fresh.test', file);
    const lookup = await policies().policyFor('fresh.test');
    expect(lookup.policy).toBeUndefined();
    expect(lookup.error).toMatch(reason);
  });

  it('a certificate the sender does not trust is no policy (the fetch needs PKIX validation)', async () => {
    txt.set('_mta-sts.example.test', [['v=STSv1; id=five']]);
    files.set('mta-sts.example.test', { status: 200, type: 'text/plain', body: ENFORCE });
    const lookup = await policies(undefined, 'system CAs').policyFor('example.test');
    expect(lookup.policy).toBeUndefined();
    expect(lookup.error).toMatch(/self.signed|unable to verify|certificate/i);
  });
});
