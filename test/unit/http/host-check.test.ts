import { describe, expect, it } from 'vitest';
import { allowedHostNames, isAllowedHost } from '../../../src/http/host-check.js';

const machine = { hostname: 'devbox', addresses: ['127.0.0.1', '192.168.1.20', 'fe80::1'] };

describe('isAllowedHost', () => {
  const cases: [bind: string, host: string | undefined, allowed: boolean, why: string][] = [
    ['127.0.0.1', 'localhost:8025', true, 'loopback name'],
    ['127.0.0.1', '127.0.0.1:8025', true, 'loopback address'],
    ['127.0.0.1', '[::1]:8025', true, 'IPv6 loopback in brackets'],
    ['127.0.0.1', 'evil.example', false, 'DNS rebinding'],
    ['127.0.0.1', 'devbox:8025', false, 'machine name only on a wildcard bind'],
    ['127.0.0.2', '127.0.0.2:8025', true, 'the bind address'],
    ['127.0.0.2', 'evil.example:8025', false, 'any loopback bind is checked'],
    ['0.0.0.0', 'devbox:8025', true, 'machine name on a wildcard bind'],
    ['0.0.0.0', 'DEVBOX', true, 'names compare case-insensitively'],
    ['0.0.0.0', '192.168.1.20:8025', true, 'machine address on a wildcard bind'],
    ['::', '[fe80::1]:8025', true, 'machine IPv6 address on a wildcard bind'],
    ['0.0.0.0', 'evil.example', false, '0.0.0.0 is not "any"'],
    ['0.0.0.0', '0.0.0.0:8025', false, 'the wildcard itself is no name'],
    ['0.0.0.0', 'mx.test', true, 'the configured hostname'],
    ['0.0.0.0', 'mail.dev.internal', true, 'http.allowedHosts'],
    ['0.0.0.0', undefined, true, 'HTTP/1.0 without Host: no browser page'],
    [
      '0.0.0.0',
      '127.0.0.2:8025',
      true,
      'any loopback literal (a container probe, a second loopback address)',
    ],
    ['0.0.0.0', '127.evil.example', false, 'a name that starts like a loopback address is a name'],
  ];
  it.each(cases)('bound to %s, Host %s -> %s (%s)', (bind, host, allowed) => {
    const names = allowedHostNames(bind, 'mx.test', ['mail.dev.internal'], machine);
    expect(isAllowedHost(host, names)).toBe(allowed);
  });
});
