/** The ceiling: Postfix's smtp-sink, which answers SMTP and keeps nothing. */
import { launch, freePort, waitForPort } from '../proc.js';
import type { Peer } from './peer.js';

export const SMTP_SINK = '/usr/sbin/smtp-sink';

export const smtpSinkPeer: Peer = {
  name: 'smtp-sink',
  description: '`smtp-sink -u nobody 127.0.0.1:PORT 1000` (Postfix; stores nothing, no disk: the ceiling)',
  async start() {
    const port = await freePort();
    // As root, smtp-sink insists on a user to run as.
    const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    const child = launch(SMTP_SINK, [...user, `127.0.0.1:${port}`, '1000']);
    await waitForPort(port, child, 'smtp-sink');
    return {
      port,
      pid: child.pid,
      stored: () => Promise.resolve(undefined),
      stop: () => child.stop(),
    };
  },
};
