import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';

/**
 * The process logger: JSON lines, or human-readable when asked (the dev profile on a TTY).
 * Secrets never reach it by design; the redaction is a second line of defence.
 */
export function createLogger(log: Config['log'], destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: log.level,
    base: { service: 'mailwharf' },
    redact: { paths: ['password', '*.password', 'auth.password'], censor: '[redacted]' },
  };
  const pretty = log.pretty === 'auto' ? process.stdout.isTTY : log.pretty;
  if (pretty && destination === undefined) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } },
    });
  }
  return destination ? pino(options, destination) : pino(options);
}
