/**
 * node:url's domainToASCII, without its cost for the common name: a plain ASCII domain
 * (letters, digits, hyphens, dots between labels; no "xn--" label; a last label that starts
 * with a letter) comes back lower-cased, which is exactly what domainToASCII makes of it. It
 * parses a URL host in C++ on every call, ~2 % of the delivery profile where every recipient's
 * domain goes through it. Anything else goes to domainToASCII: A-labels are checked there, a
 * last label that starts with a digit may be an IPv4 number ("01.2.3.4" is "1.2.3.4",
 * "example.123" is refused), and "%" escapes, "/" and odd characters are its to judge.
 */
import { domainToASCII as parseDomain } from 'node:url';

const PLAIN = /^(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*$/i;
const A_LABEL = /(?:^|\.)xn--/i;

export function domainToASCII(domain: string): string {
  return PLAIN.test(domain) && !A_LABEL.test(domain) ? domain.toLowerCase() : parseDomain(domain);
}
