#!/usr/bin/env node
// What moving staged search text into the full-text tables costs per row, by rows per move
// (a round of TextMover, src/sink/text-mover.ts; the sink moves after STAGED_TEXT_MS or
// STAGED_ROWS_AT_MOST, see text-moves.ts), on a copy of bench:sink's 100,000-message index
// (both its files). The text is that of smtp-source's 2 KiB message, which bench:sink's
// intake sends.
// Prints CPU ms per row (user + system of this process) and wall ms per row. A benchmark,
// not a test: run `npm run bench:sink` once first so that the index exists.
//
//   npm run bench:sink-text-move      (builds, then runs node bench/sink-text-move.mjs)
//     env: BENCH_INDEX=FILE (default: bench:sink's cached index), ROWS (per batch size), BATCHES="5 20 50 200 500"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const dist = resolve(process.env.BENCH_DIST ?? resolve(import.meta.dirname, '../dist'), 'src');
const { SCHEMA_VERSION } = await import(join(dist, 'sink/migrations.js'));
const { openTextMover } = await import(join(dist, 'sink/text-mover.js'));
const { textPathOf } = await import(join(dist, 'sink/text-file.js'));
const source =
  process.env.BENCH_INDEX ??
  join(tmpdir(), `mailwharf-bench-sink-100000-v${SCHEMA_VERSION}-journal`, 'spool', 'sink.sqlite');
if (!existsSync(source)) throw new Error(`${source}: no index; run npm run bench:sink first`);
const ROWS = Number(process.env.ROWS ?? 1000);
const BATCHES = (process.env.BATCHES ?? '5 20 50 200 500').split(' ').map(Number);

// smtp-source -l 2048: 26 lines of a digit and 77 X's, as mailparser's text, lower-cased.
const body = Array.from({ length: 26 }, (_, i) => `${(i + 1) % 10}${'x'.repeat(77)}`).join('\n');
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

for (const batch of BATCHES) {
  const dir = mkdtempSync(join(tmpdir(), 'mailwharf-text-move-'));
  const path = join(dir, 'sink.sqlite');
  copyFileSync(source, path);
  copyFileSync(textPathOf(source), textPathOf(path));
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -16000');
  let seq = Number(db.prepare('SELECT max(seq) AS m FROM messages').get().m) + 1000;
  const stage = db.prepare(
    `INSERT INTO text_staging (seq, text, subject, from_text, to_text, cc_text, bcc_text, reply_to_text, message_id)
      VALUES (?, ?, '', 'load@bench.test', 'sink@bench.test', '', '', '', ?)`,
  );
  const mover = openTextMover(path);
  const move = () => mover.move();
  let cpu = 0;
  const started = Date.now();
  for (let done = 0; done < ROWS; done += batch) {
    db.transaction(() => {
      for (let i = 0; i < batch; i++, seq++) {
        stage.run(seq, `\nload@bench.test\nsink@bench.test\n${body}`, `${seq}.0000@vm`);
      }
    })();
    const before = cpuMs();
    move();
    cpu += cpuMs() - before;
  }
  const wall = Date.now() - started;
  mover.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `${String(batch).padStart(4)} rows per move: ${(cpu / ROWS).toFixed(3)} ms CPU per row moved; ${(wall / ROWS).toFixed(3)} ms wall per row staged and moved`,
  );
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`load ${load}`);
