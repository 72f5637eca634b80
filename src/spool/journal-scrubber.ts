import type { Logger } from 'pino';
import type { ScrubReport } from './journal.js';

/**
 * One sealed segment (16 MiB at most) checked every 30 s: about 0.5 MiB/s of reads, so a check
 * costs nothing next to intake, and a 1 GiB journal (64 segments) is read whole every 32 min.
 * Fixed: damage found sooner or later is found before a delivery or view reads it either way.
 */
export const SCRUB_EVERY_MS = 30_000;

export interface Scrubbable {
  readonly dir: string;
  scrubJournal(): Promise<ScrubReport | undefined>;
}

/**
 * Runs Journal.scrub in the background, one segment each `everyMs`, the next timer set only
 * once a step is done (a slow disk never stacks them up); unref'd, so it never keeps the
 * process alive. stop() clears the timer and waits for a step under way (before the spool closes).
 */
export function startJournalScrub(
  spool: Scrubbable,
  log: Logger,
  everyMs = SCRUB_EVERY_MS,
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const step = async (): Promise<void> => {
    try {
      const report = await spool.scrubJournal();
      if (report?.quarantined !== undefined) {
        log.error(
          {
            quarantined: [report.quarantined],
            lost: report.lost,
            rewritten: report.rewritten ?? [],
            dir: `${spool.dir}/quarantine`,
          },
          'journal records found damaged by the background check: segment copied aside, messages removed, REMOVE records written again',
        );
      }
    } catch (error) {
      log.error({ err: String(error) }, 'could not check a journal segment');
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = step().finally(schedule);
    }, everyMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
