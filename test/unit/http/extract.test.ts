import { describe, expect, it } from 'vitest';
import { extractCodes, extractLinks } from '../../../src/http/extract.js';

describe('extractCodes', () => {
  const cases: [text: string, codes: string[], why: string][] = [
    ['Your code is 834921.', ['834921'], 'a code may end a sentence'],
    ['Your code: 493817', ['493817'], 'the plain case'],
    ['Use code AB12CD to sign in', ['AB12CD'], 'a letter-and-digit token after "code"'],
    ['Order #12345678 shipped', [], '"#" marks a reference'],
    ['Your order 12345678 shipped. Code 4821', ['4821'], 'an order number is not a code'],
    ['Invoice no. 20260415', [], 'an invoice number is not a code'],
    ['Version 1.2345 and 3.14159', [], 'decimals are not codes'],
    ['On 2026-11-30 at 1234', ['1234'], 'a date is not a code; a number standing alone is'],
    ['Your code is 123456, valid 10 min', ['123456'], 'a comma after a code'],
    ['Use the code below', [], 'a word after "code" without a digit is not a code'],
  ];
  it.each(cases)('%s -> %j (%s)', (text, codes) => {
    expect(extractCodes(text)).toEqual(codes);
  });
});

describe('extractLinks', () => {
  const cases: [html: string, text: string, links: string[], why: string][] = [
    ['<a href="https://a.example/v?t=1&amp;u=2">x</a>', '', ['https://a.example/v?t=1&u=2'], '&amp;'],
    ['<a href="https://a.example/v?t=1&#38;u=2">x</a>', '', ['https://a.example/v?t=1&u=2'], '&#38;'],
    ['<a href="https://a.example/v?t=1&#x26;u=2">x</a>', '', ['https://a.example/v?t=1&u=2'], '&#x26;'],
    ['<a href=https://a.example/unquoted>x</a>', '', ['https://a.example/unquoted'], 'unquoted href'],
    ["<a href='https://a.example/single'>x</a>", '', ['https://a.example/single'], 'single quotes'],
    ['<a href="mailto:x@example.com">x</a>', '', [], 'only http(s) links'],
    ['', 'Open https://a.example/confirm.', ['https://a.example/confirm'], 'full stop after a link'],
  ];
  it.each(cases)('%s %s -> %j (%s)', (html, text, links) => {
    expect(extractLinks(text, html === '' ? undefined : html)).toEqual(links);
  });
});
