import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, type Reply } from '../helpers/smtp-probe.js';

/**
 * Seeded fuzzing of the real server over raw SMTP: mutated command lines and message bodies,
 * every reply checked for form. Bounded (FUZZ_INPUTS, default 20 000) and reproducible
 * (FUZZ_SEED); a failure prints the seed and the input. A longer run:
 * FUZZ_INPUTS=200000 FUZZ_SEED=7 npx vitest run test/e2e/fuzz-smtp.test.ts
 */
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_130);
const SESSIONS = 6;

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ADDRESSES = [
  'a@local.test',
  'postmaster',
  '"john smith"@local.test',
  'v%evil.example@local.test',
  'evil.example!v@local.test',
  '@hop.example:v@local.test',
  '"v@x"@local.test',
  'x@elsewhere.test',
  '',
  'a@[127.0.0.1]',
  'a@[IPv6:::1]',
  'ü@bücher.example',
];
const PARAMS = [
  '',
  ' SIZE=100',
  ` SIZE=${'9'.repeat(30)}`,
  ' BODY=8BITMIME',
  ' SMTPUTF8',
  ' NOTIFY=NEVER',
  ' ORCPT=rfc822;a@b',
  ' RET=HDRS ENVID=x+41',
];

function seedCommands(pick: <T>(items: readonly T[]) => T): string[] {
  return [
    'EHLO fuzz.test',
    'HELO fuzz.test',
    `MAIL FROM:<${pick(ADDRESSES)}>${pick(PARAMS)}`,
    `RCPT TO:<${pick(ADDRESSES)}>${pick(PARAMS)}`,
    'RSET',
    'NOOP',
    'VRFY a',
    'EXPN list',
    'HELP',
    'AUTH PLAIN AGFAYgBj',
    'AUTH LOGIN',
    'BDAT 10 LAST',
    'XCLIENT ADDR=1.2.3.4',
    'MAIL FROM:a@b',
  ];
}

/** The bytes a command line may carry: anything but CR and LF (those would split it). */
function randomByte(random: () => number): number {
  for (;;) {
    const byte = Math.floor(random() * 256);
    if (byte !== 0x0d && byte !== 0x0a) return byte;
  }
}

function mutate(line: string, random: () => number): Buffer {
  let bytes = Buffer.from(line, 'utf8');
  const rounds = Math.floor(random() * 4);
  for (let n = 0; n < rounds; n++) {
    const at = Math.floor(random() * (bytes.length + 1));
    switch (Math.floor(random() * 6)) {
      case 0: // flip a byte
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = randomByte(random);
        break;
      case 1: // insert a byte
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([randomByte(random)]), bytes.subarray(at)]);
        break;
      case 2: // cut the rest
        bytes = bytes.subarray(0, at);
        break;
      case 3: // repeat a piece
        bytes = Buffer.concat([bytes, bytes.subarray(at, at + 1 + Math.floor(random() * 600))]);
        break;
      case 4: // a NUL or a high byte
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from([random() < 0.5 ? 0 : 0xff]),
          bytes.subarray(at),
        ]);
        break;
      default: // change case
        bytes = Buffer.from(bytes.toString('latin1').toLowerCase(), 'latin1');
    }
  }
  return bytes;
}

/** A DATA body: text with NUL, bare CR/LF, leading dots and long lines mixed in. */
function body(random: () => number): Buffer {
  const pieces = [
    'Subject: fuzz\r\n\r\n',
    'text\r\n',
    '\x00.\r\n',
    '\r',
    '\n',
    '..dot\r\n',
    '.\n',
    'x'.repeat(1200),
    '\r\n',
    'Received: x\r\n',
    '\xff\xfe',
  ];
  let out = '';
  const count = 1 + Math.floor(random() * 20);
  for (let n = 0; n < count; n++) out += pieces[Math.floor(random() * pieces.length)] ?? '';
  // A body must not end DATA early: "\r\n.\r\n" inside it would be the end.
  return Buffer.from(out.replaceAll('\r\n.\r\n', '\r\n..\r\n'), 'latin1');
}

/** No enhanced code by design: greeting, SASL challenge, DATA go-ahead, EHLO/HELP lists. */
const WITHOUT_ENHANCED = new Set([220, 334, 354, 214]);

function problems(reply: Reply, sent: string): string[] {
  const found: string[] = [];
  for (const line of reply.lines) {
    if (!/^[2-5][0-5]\d[ -]/.test(line) && !/^[2-5][0-5]\d$/.test(line))
      found.push(`malformed line ${JSON.stringify(line)}`);
  }
  const last = reply.last;
  const code = Number(last.slice(0, 3));
  const isEhlo = /^(EHLO|HELO)\b/i.test(sent) && code === 250;
  if (!WITHOUT_ENHANCED.has(code) && !isEhlo) {
    const enhanced = /^\d{3}[ -]([245])\.\d{1,3}\.\d{1,3} /.exec(last);
    if (!enhanced) found.push(`no enhanced code in ${JSON.stringify(last)}`);
    else if (enhanced[1] !== last[0])
      found.push(`enhanced class differs from the code in ${JSON.stringify(last)}`);
  }
  return found;
}

describe('fuzzing the SMTP session', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  it(
    `${String(INPUTS)} mutated command lines and bodies (seed ${String(SEED)}): every reply well-formed, the server stays up`,
    async () => {
      const port = mw.port('smtp');
      const bad: string[] = [];
      let inputs = 0;
      let replies = 0;
      let reconnects = 0;
      const started = Date.now();

      const session = async (index: number): Promise<void> => {
        const random = prng(SEED + index);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
        let probe: SmtpProbe | undefined;
        const check = (reply: Reply, sent: string): void => {
          replies++;
          for (const problem of problems(reply, sent))
            if (bad.length < 20) bad.push(`${problem} after ${JSON.stringify(sent)}`);
        };
        while (inputs < INPUTS && bad.length === 0) {
          if (!probe || probe.isClosed) {
            probe?.close();
            probe = await SmtpProbe.connect(port);
            reconnects++;
            check(await probe.read(), '(greeting)');
          }
          const line = mutate(pick(seedCommands(pick)), random);
          const text = line.toString('latin1');
          if (/^\s*(QUIT|STARTTLS)/i.test(text)) continue;
          inputs++;
          probe.write(Buffer.concat([line, Buffer.from('\r\n')]));
          let reply: Reply;
          try {
            reply = await probe.read(20_000);
          } catch (error) {
            if (probe.isClosed) continue; // the server may close after e.g. too many errors; it said why first
            throw new Error(
              `seed ${String(SEED + index)}: no reply to ${JSON.stringify(text)}: ${String(error)}`,
            );
          }
          check(reply, text);
          if (reply.code === 354) {
            inputs++;
            const data = body(random);
            probe.write(Buffer.concat([data, Buffer.from('\r\n.\r\n')]));
            check(await probe.read(20_000), `(body ${JSON.stringify(data.toString('latin1').slice(0, 60))})`);
          }
        }
        probe?.close();
      };
      await Promise.all(Array.from({ length: SESSIONS }, (_, index) => session(index)));
      console.info(
        `fuzz: ${String(inputs)} inputs, ${String(replies)} replies, ${String(reconnects)} connections in ${String(Date.now() - started)} ms (seed ${String(SEED)})`,
      );
      expect(bad).toEqual([]);
      expect(inputs).toBeGreaterThanOrEqual(INPUTS);

      const after = await SmtpProbe.connect(port);
      expect((await after.read()).code).toBe(220);
      expect((await after.command('NOOP')).code).toBe(250);
      after.close();
    },
    Math.max(120_000, INPUTS * 3),
  );
});
