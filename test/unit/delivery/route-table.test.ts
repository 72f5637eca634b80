import { describe, expect, it } from 'vitest';
import { domainMatches, routeForDomain } from '../../../src/delivery/route-table.js';

describe('domainMatches', () => {
  it.each([
    ['example.com', 'example.com', true],
    ['example.com', 'EXAMPLE.com.', true],
    ['example.com', 'mx.example.com', false], // a plain domain is that domain only
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true], // any depth, as Postfix's .example.com
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'badexample.com', false], // a suffix that is not a label boundary
  ])('%s ~ %s -> %s', (pattern, domain, matches) => {
    expect(domainMatches(pattern, domain)).toBe(matches);
  });
});

describe('routeForDomain', () => {
  const table = [
    { domains: ['one.test'], route: 'A' },
    { domains: ['two.test', '*.two.test'], route: 'B' },
    { domains: ['*.one.test', 'one.test'], route: 'C' }, // one.test already went to A: first match wins
  ];
  it.each([
    ['one.test', 'A', 0],
    ['sub.one.test', 'C', 2],
    ['two.test', 'B', 1],
    ['deep.sub.two.test', 'B', 1],
    ['three.test', 'default', -1],
  ])('%s -> %s (entry %i)', (domain, route, entry) => {
    expect(routeForDomain(domain, table, 'default')).toEqual({ route, entry });
  });
});
