import { describe, expect, it } from 'vitest';
import { hasEightBit, toSevenBit } from '../../../src/delivery/seven-bit.js';

const convert = (text: string) => toSevenBit(Buffer.from(text, 'utf8')).toString('latin1');

describe('toSevenBit (8BITMIME downgrade)', () => {
  it.each([
    // input, output, why
    ['Subject: a\r\n\r\nplain ascii\r\n', 'Subject: a\r\n\r\nplain ascii\r\n', 'nothing 8-bit: unchanged'],
    [
      'Subject: a\r\nContent-Transfer-Encoding: 8bit\r\n\r\nk\u00f6ln\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'an 8bit text: quoted-printable, the header replaced',
    ],
    [
      'Subject: a\r\n\r\nk\u00f6ln\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'no CTE header but 8-bit bytes: one is added',
    ],
    [
      'Subject: a\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n',
      'base64 is 7-bit already',
    ],
    [
      'Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nk\u00f6ln\r\n',
      'Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'an attached message is converted inside, and labelled 7bit',
    ],
    [
      'Received: from a\r\n\tby b\r\nContent-Transfer-Encoding:\r\n 8bit\r\n\r\nk\u00f6ln\r\n',
      'Received: from a\r\n\tby b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'folded fields stay folded (never a bare CR), and a folded CTE is replaced whole',
    ],
  ])('%j (%s)', (input, output, _why) => {
    expect(convert(input)).toBe(output);
  });

  it('a long 8-bit line gets soft line breaks within 76 characters', () => {
    const out = convert(`Subject: a\r\n\r\n${'\u00e9'.repeat(100)}\r\n`);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(hasEightBit(Buffer.from(out, 'latin1'))).toBe(false);
  });
});
