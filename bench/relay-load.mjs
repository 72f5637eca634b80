// What the two delivery benchmarks share (bench/delivery.mjs: mailwharf; bench/postfix-relay.mjs:
// Postfix): the load (2,000 x 4 KiB over 10 client connections, queued while delivery is
// held back), the waits, smtp-sink as the receiver and the line each prints. Only how each
// MTA is set up, held back and released differs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
/** Client connections while queueing, and connections each MTA may open to the sink. */
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
export const BODY = 'Subject: delivery bench\r\n\r\n' + ('x'.repeat(76) + '\r\n').repeat(52);

export const freePort = () =>
  new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

export const waitFor = async (predicate, what, timeoutMs = 300000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** An SMTP client session (one command at a time) that sends the bench message. */
function session(port) {
  return new Promise((ready) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    const waiting = [];
    socket.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] !== '-') waiting.shift()?.(line);
      }
    });
    const reply = () => new Promise((r) => waiting.push(r));
    const command = (line) => (socket.write(line + '\r\n'), reply());
    reply()
      .then(() => command('EHLO bench.test'))
      .then(() =>
        ready({
          async send(body) {
            await command('MAIL FROM:<load@bench.test>');
            await command('RCPT TO:<sink@example.org>');
            await command('DATA');
            const line = await command(body + '\r\n.');
            if (!line.startsWith('250')) throw new Error(line);
          },
          close: () => socket.end('QUIT\r\n'),
        }),
      );
  });
}

/** Submits MESSAGES copies of BODY to port over CONNECTIONS sessions. */
export async function queueLoad(port) {
  const sessions = await Promise.all(Array.from({ length: CONNECTIONS }, () => session(port)));
  let next = 0;
  await Promise.all(
    sessions.map(async (s) => {
      while (next++ < MESSAGES) await s.send(BODY);
      s.close();
    }),
  );
}

/** Postfix's smtp-sink on port, accepting up to 256 connections; resolves once it listens. */
export async function startSink(port) {
  const sink = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', `127.0.0.1:${port}`, '256'], {
    stdio: 'ignore',
  });
  await waitFor(
    () =>
      new Promise((done) => {
        const probe = connect(port, '127.0.0.1', () => (probe.destroy(), done(true)));
        probe.once('error', () => done(false));
      }),
    'smtp-sink listening',
    10000,
  );
  return sink;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Prints the result: JSON with --json (for bench/delivery-vs-postfix.mjs), else a line. */
export function report(who, seconds, extra = {}) {
  const result = { messages: MESSAGES, connections: CONNECTIONS, size: BODY.length, seconds, ...extra };
  console.log(
    process.argv.includes('--json')
      ? JSON.stringify(result)
      : `${who} delivered ${String(MESSAGES)} x ${String(BODY.length)} B to smtp-sink over ${String(CONNECTIONS)} connections in ${seconds.toFixed(2)} s: ${(MESSAGES / seconds).toFixed(1)} msgs/s` +
          (extra.cpuSeconds === undefined ? '' : ` (${extra.cpuSeconds.toFixed(2)} s of CPU)`) +
          (extra.cpuMsPerMessage === undefined
            ? ''
            : `, ${extra.cpuMsPerMessage.toFixed(3)} ms of CPU per message`) +
          (extra.benchCpuSeconds === undefined
            ? ''
            : `; the bench itself ${extra.benchCpuSeconds.toFixed(2)} s of CPU`),
  );
}
