import { describe, expect, it } from 'vitest';
import { networkSet, plainAddress } from '../../../src/pipeline/networks.js';

describe('networkSet', () => {
  const trusted = networkSet(['10.0.0.0/8', '192.0.2.1', '2001:db8::/32', '::1']);

  it.each([
    // address, contained, why
    ['10.0.0.0', true, 'first address of an IPv4 CIDR'],
    ['10.255.255.255', true, 'last address of an IPv4 CIDR'],
    ['11.0.0.0', false, 'just past the IPv4 CIDR'],
    ['9.255.255.255', false, 'just before the IPv4 CIDR'],
    ['192.0.2.1', true, 'an IPv4 entry without a prefix is that one host'],
    ['192.0.2.2', false, 'the host entry is /32, not its neighbours'],
    ['2001:db8::1', true, 'inside the IPv6 CIDR'],
    ['2001:DB8:FFFF::1', true, 'IPv6 hex digits are case-insensitive'],
    ['2001:db9::', false, 'just past the IPv6 CIDR'],
    ['::1', true, 'an IPv6 entry without a prefix is that one host'],
    ['::2', false, 'the host entry is /128, not its neighbours'],
    ['::ffff:10.1.2.3', true, 'an IPv4 client on a dual-stack socket matches IPv4 CIDRs'],
    ['::FFFF:10.1.2.3', true, 'the mapped prefix is case-insensitive'],
    ['::ffff:a01:203', true, 'the mapped form in hex is the same address (10.1.2.3)'],
    ['::ffff:192.0.2.1', true, 'a mapped address matches a single-host IPv4 entry'],
    ['::ffff:11.0.0.1', false, 'a mapped address outside the CIDRs'],
    ['localhost', false, 'a host name is not an address'],
    ['', false, 'an empty string'],
    ['10.0.0.0/8', false, 'a CIDR is not an address'],
    [' 10.1.2.3', false, 'no trimming: padded text is not an address'],
    ['10.1.2', false, 'a short dotted quad'],
    ['unknown', false, 'what a PROXY UNKNOWN header leaves'],
  ] as const)('%j -> %s (%s)', (address, contained, _why) => {
    expect(trusted.contains(address)).toBe(contained);
  });

  it.each([
    // cidrs, address, contained, why
    [[], '127.0.0.1', false, 'an empty set trusts nobody'],
    [['0.0.0.0/0'], '203.0.113.9', true, '/0 is every IPv4 address'],
    [['0.0.0.0/0'], '2001:db8::1', false, 'an IPv4 /0 does not cover IPv6'],
    [['::/0'], '2001:db8::1', true, '::/0 is every IPv6 address'],
    [['127.0.0.0/8'], '::ffff:127.0.0.1', true, 'loopback seen through a dual-stack socket'],
    [['127.0.0.0/8'], '::1', false, 'IPv6 loopback is not in 127/8'],
    [['192.0.2.128/25'], '192.0.2.127', false, 'a non-octet prefix: below the boundary'],
    [['192.0.2.128/25'], '192.0.2.128', true, 'a non-octet prefix: at the boundary'],
  ] as const)('%j contains %j: %s (%s)', (cidrs, address, contained, _why) => {
    expect(networkSet(cidrs).contains(address)).toBe(contained);
  });

  it('gives the same answers once it remembers them, also past the addresses it keeps', () => {
    const set = networkSet(['10.0.0.0/8']);
    // More distinct addresses than the set remembers, asked twice: the second pass reads
    // answers remembered after the memory started again.
    const addresses = Array.from(
      { length: 5000 },
      (_, i) => `${i % 2 === 0 ? 10 : 11}.0.${i >> 8}.${i & 255}`,
    );
    for (let pass = 0; pass < 2; pass++)
      for (const [i, address] of addresses.entries()) expect(set.contains(address)).toBe(i % 2 === 0);
  });
});

describe('plainAddress', () => {
  it.each([
    // input, output, why
    ['::ffff:192.0.2.1', '192.0.2.1', 'a mapped IPv4 address is reported as IPv4'],
    ['::FFFF:192.0.2.1', '192.0.2.1', 'whatever the case of the prefix'],
    ['192.0.2.1', '192.0.2.1', 'plain IPv4 is unchanged'],
    ['2001:db8::1', '2001:db8::1', 'plain IPv6 is unchanged'],
    ['::ffff:a01:203', '::ffff:a01:203', 'only the dotted form is rewritten'],
    ['x::ffff:192.0.2.1', 'x::ffff:192.0.2.1', 'the prefix must start the string'],
  ] as const)('%j -> %j (%s)', (input, output, _why) => {
    expect(plainAddress(input)).toBe(output);
  });
});
