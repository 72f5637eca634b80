import { describe, expect, it } from 'vitest';
import { withAddresses } from '../../../src/delivery/mx-resolve.js';
import { RouteError, type Hop } from '../../../src/delivery/routes.js';

const hop = (host: string): Hop => ({ host, port: 25, tls: 'opportunistic', verifyCertificate: false });
const failure = (code: string): Error => Object.assign(new Error(code), { code });
const table: Record<string, string[] | Error> = {
  'mx1.a.test': ['192.0.2.1', '2001:db8::1'],
  'mx2.a.test': ['192.0.2.2'],
  'gone.a.test': failure('ENOTFOUND'),
  'empty.a.test': failure('ENODATA'),
  'slow.a.test': failure('ETIMEOUT'),
};
const lookups = {
  resolveAddresses: (host: string): Promise<string[]> => {
    const answer = table[host];
    return answer instanceof Error || answer === undefined
      ? Promise.reject(answer ?? failure('ENOTFOUND'))
      : Promise.resolve(answer);
  },
};

describe('withAddresses', () => {
  it('one hop per address, in MX order, the name kept for TLS; hosts without an address skipped', async () => {
    const hops = await withAddresses([hop('mx1.a.test'), hop('gone.a.test'), hop('mx2.a.test')], lookups);
    expect(hops.map((h) => [h.host, h.address])).toEqual([
      ['mx1.a.test', '192.0.2.1'],
      ['mx1.a.test', '2001:db8::1'],
      ['mx2.a.test', '192.0.2.2'],
    ]);
  });

  it('an address literal is its own address, without a lookup', async () => {
    expect(await withAddresses([hop('127.0.0.3')], lookups)).toEqual([
      { ...hop('127.0.0.3'), address: '127.0.0.3' },
    ]);
  });

  it.each([
    // why: every answer says the names have no address: a retry cannot help (Postfix 5.4.4)
    [['gone.a.test', 'empty.a.test'], '5.4.4'],
    // why: a timeout may pass: try again later
    [['gone.a.test', 'slow.a.test'], '4.4.3'],
  ])('no address for %j: %s', async (hosts, status) => {
    const error = await withAddresses(hosts.map(hop), lookups).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteError);
    expect((error as RouteError).status).toBe(status);
  });
});
