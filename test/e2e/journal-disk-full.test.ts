import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentName } from '../../src/spool/journal.js';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { Spool } from '../../src/spool/spool.js';
import { startTestServer, type TestServer } from '../helpers/config.js';
import { queueIdOf } from '../helpers/queue-id.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

/** Fills the file system under `path` with one file until a write fails with ENOSPC. */
async function fill(path: string): Promise<void> {
  const handle = await open(path, 'w');
  const block = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    if (!(error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOSPC')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Whether mount failed for want of the right to mount (EPERM from the call; mount(8), as a
 * user, says so in words), not for a fault a test run should report.
 */
function mountNotPermitted(error: unknown): boolean {
  if (process.getuid?.() !== 0) return true;
  // execFileSync's message carries mount's stderr.
  const text = error instanceof Error ? error.message : String(error);
  return /permission denied|operation not permitted|must be superuser|only root/i.test(text);
}

/**
 * A small message is a journal record (limits.test.ts covers a large one, streamed to queue/).
 * On a full disk its append fails with ENOSPC, after a short write into the segment's last
 * page: the client gets 452 4.3.1, as Postfix's smtpd answers when its queue file system is
 * short of space, a temporary failure the client retries. Nothing of it stays behind.
 */
describe('a full disk under the journal', () => {
  let mountpoint: string | undefined;
  let mounted = false;
  /** Why the test cannot run here: mounting is not permitted (not root, no CAP_SYS_ADMIN). */
  let cannotMount: string | undefined;
  let mw: TestServer | undefined;

  beforeAll(async () => {
    mountpoint = await mkdtemp(join(tmpdir(), 'mailwharf-journal-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mountpoint], { stdio: 'pipe' });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      if (mountNotPermitted(error)) {
        cannotMount = `needs a 200 KiB tmpfs, and mounting one is not permitted here (run as root, or in a container with CAP_SYS_ADMIN): ${detail}`;
        return;
      }
      throw new Error(
        `the journal's disk-full test needs a 200 KiB tmpfs, but "mount -t tmpfs -o size=200k tmpfs ${mountpoint}" failed: ${detail}`,
      );
    }
    mounted = true;
    await mkdir(join(mountpoint, 'spool'));
  });

  afterAll(async () => {
    await mw?.close();
    if (mountpoint) {
      if (mounted) execFileSync('umount', [mountpoint]);
      await rm(mountpoint, { recursive: true, force: true });
    }
  });

  it('a small message that does not fit is 452 4.3.1; not listed, the segment cut back, later mail accepted', async (ctx) => {
    if (cannotMount !== undefined) ctx.skip(cannotMount);
    const root = mountpoint ?? '';
    const spoolDir = join(root, 'spool');
    mw = await startTestServer((raw) => {
      raw.spool = { dir: spoolDir };
    });
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    expect((await probe.read()).code).toBe(220);
    await probe.command('EHLO full.test');
    const first = await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: first\r\n\r\nfits');
    const firstId = queueIdOf(first.last);
    const segment = join(spoolDir, 'journal', segmentName(1));
    const whole = (await stat(segment)).size;

    const filler = join(root, 'filler');
    await fill(filler);
    // 20 KiB: held in memory (a journal record), more than the room left in the segment's last page.
    const body = `Subject: no room\r\n\r\n${`${'y'.repeat(76)}\r\n`.repeat(260)}`;
    const refused = await sendMessage(probe, 'a@local.test', ['b@local.test'], body);
    expect(refused.last).toBe('452 4.3.1 Insufficient system storage');
    expect(refused.last).toBe(renderReply(replies.diskFull));
    expect(await mw.server.spool.ids()).toEqual([firstId]);
    expect((await stat(segment)).size).toBe(whole);

    await rm(filler);
    const third = await sendMessage(probe, 'a@local.test', ['b@local.test'], body);
    const thirdId = queueIdOf(third.last);
    expect((await mw.server.spool.ids()).sort()).toEqual([firstId, thirdId].sort());
    probe.close();
    await mw.server.stop();

    const reopened = await Spool.open(spoolDir);
    try {
      expect(reopened.quarantined).toEqual([]);
      expect((await reopened.spool.ids()).sort()).toEqual([firstId, thirdId].sort());
      expect((await reopened.spool.messageBytes(thirdId))?.toString('latin1')).toContain('Subject: no room');
    } finally {
      await reopened.spool.close();
    }
  });
});
