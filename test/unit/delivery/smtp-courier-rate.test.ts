import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { OutboundMessage } from '../../../src/delivery/courier.js';
import type { Resolver } from '../../../src/delivery/routes.js';
import { SmtpCourier } from '../../../src/delivery/smtp-courier.js';
import { testConfigInput } from '../../helpers/config.js';
import { testEnvelope } from '../../helpers/envelope.js';

/** DNS that times out for every name: route planning fails with 4.4.3, no connection is made. */
const deadDns: Resolver = {
  resolveMx: () => Promise.reject(Object.assign(new Error('queryMx ETIMEOUT'), { code: 'ETIMEOUT' })),
  resolveTxt: () => Promise.reject(Object.assign(new Error('queryTxt ETIMEOUT'), { code: 'ETIMEOUT' })),
  resolveAddresses: () => Promise.reject(Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' })),
};

const MESSAGE = Buffer.from('Subject: rate\r\n\r\nbody\r\n');

function message(id: string): OutboundMessage {
  const envelope = testEnvelope(id, MESSAGE.length, { rcptTo: [{ address: 'rcpt@down.test' }] });
  return {
    envelope,
    open: () => Readable.from([MESSAGE]),
    header: () => Promise.resolve('Subject: rate\r\n'),
    eightBit: false,
    bytes: MESSAGE,
  };
}

describe('SmtpCourier and delivery.rateLimits', () => {
  it('a message whose route planning fails (DNS 4.4.3) gives back the message-rate unit it took', async () => {
    const config = validateConfig(
      testConfigInput({ spool: '/nonexistent/spool', certs: '/nonexistent/certs' }, (raw) => {
        raw.delivery = {
          route: { type: 'mx' },
          rateLimits: [{ domains: ['down.test'], messagesPerMinute: 1 }],
        };
      }),
      'test config',
    );
    const courier = new SmtpCourier(config, deadDns, () => 0.5);
    try {
      // With one message a minute, the second would be held by the rate (4.7.0) had the first,
      // which never reached a host, kept its unit.
      for (const id of ['00000000000000001', '00000000000000002', '00000000000000003']) {
        const results = await courier.deliver(message(id), [{ address: 'rcpt@down.test' }]);
        expect(results.map((r) => [r.address, r.outcome.enhanced, r.postponedMs])).toEqual([
          ['rcpt@down.test', '4.4.3', undefined],
        ]);
      }
    } finally {
      courier.close();
    }
  });
});
