import { describe, expect, it } from 'vitest';
import { parseSpamdReply, spamdAddress } from '../../../src/http/spamassassin.js';

const REPORT = [
  'SPAMD/1.1 0 EX_OK',
  'Content-length: 300',
  'Spam: True ; 1004.2 / 5.0',
  '',
  'Content analysis details:   (1004.2 points, 5.0 required)',
  '',
  ' pts rule name              description',
  '---- ---------------------- --------------------------------------------------',
  '1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email',
  '-0.0 NO_RELAYS              Informational: message was not relayed via SMTP',
  ' 2.7 MISSING_DATE           Missing Date: header',
  ' 1.5 LONG_ONE               A description that goes on and',
  '                            continues on the next line',
  '',
].join('\r\n');

describe('parseSpamdReply', () => {
  it('reads the verdict, the score and the rule table (wrapped descriptions joined)', () => {
    expect(parseSpamdReply(REPORT)).toEqual({
      Error: '',
      IsSpam: true,
      Score: 1004.2,
      Rules: [
        { Score: 1000, Name: 'GTUBE', Description: 'BODY: Generic Test for Unsolicited Bulk Email' },
        { Score: -0, Name: 'NO_RELAYS', Description: 'Informational: message was not relayed via SMTP' },
        { Score: 2.7, Name: 'MISSING_DATE', Description: 'Missing Date: header' },
        {
          Score: 1.5,
          Name: 'LONG_ONE',
          Description: 'A description that goes on and continues on the next line',
        },
      ],
    });
  });
  it('turns a spamd error status into Error with no rules', () => {
    expect(parseSpamdReply('SPAMD/1.0 76 Bad header line: x\r\n\r\n')).toEqual({
      Error: 'spamd: Bad header line: x',
      IsSpam: false,
      Score: 0,
      Rules: null,
    });
  });
});

describe('spamdAddress', () => {
  const cases: [string, { host: string; port: number } | 'error'][] = [
    ['127.0.0.1:783', { host: '127.0.0.1', port: 783 }],
    ['spamd.internal:7830', { host: 'spamd.internal', port: 7830 }],
    ['[::1]:783', { host: '::1', port: 783 }],
    ['127.0.0.1', 'error'],
  ];
  it.each(cases)('%s -> %j', (value, expected) => {
    if (expected === 'error') expect(() => spamdAddress(value)).toThrow(/host:port/);
    else expect(spamdAddress(value)).toEqual(expected);
  });
});
