/** MailDev from npm: in-memory store (its .eml files in a temp dir), counted through its REST API. */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAILDEV_BIN } from '../paths.js';
import { freePort, launch, waitForPort } from '../proc.js';
import type { Peer } from './peer.js';

export const maildevPeer: Peer = {
  name: 'maildev',
  description:
    '`maildev --smtp PORT --ip 127.0.0.1 --web PORT2 --web-ip 127.0.0.1 --silent` (MailDev 3.0.0 from npm, ' +
    'in-memory store; web/API kept on loopback only to count messages via /api/email/summary)',
  async start() {
    const port = await freePort();
    const web = await freePort();
    const child = launch(process.execPath, [
      MAILDEV_BIN,
      ...['--smtp', String(port), '--ip', '127.0.0.1'],
      ...['--web', String(web), '--web-ip', '127.0.0.1'],
      '--silent',
    ]);
    await waitForPort(port, child, 'maildev');
    await waitForPort(web, child, 'maildev web');
    return {
      port,
      pid: child.pid,
      async stored() {
        const response = await fetch(`http://127.0.0.1:${web}/api/email/summary?limit=1`, {
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json()) as { total?: unknown };
        if (typeof body.total !== 'number') throw new Error('maildev: no total in /api/email/summary');
        return body.total;
      },
      async stop() {
        await child.stop();
        // MailDev writes each message's .eml under $TMPDIR/maildev-PID.
        await rm(join(tmpdir(), `maildev-${child.pid}`), { recursive: true, force: true });
      },
    };
  },
};
