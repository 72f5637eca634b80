#!/usr/bin/env node
// The floor peer: the naive durable SMTP server. A bare smtp-server with the library's
// defaults (its 100 ms greeting pause included) that streams each message to a file,
// then fdatasyncs the file and fsyncs the directory before answering 250.
//   node bench/peers/floor.mjs DIR   -> prints {"port":N} once listening on 127.0.0.1
// With --no-disk instead of DIR it reads each message and answers 250 without storing it:
// the most any server built on smtp-server can do on this machine (the library's ceiling).
//   node bench/peers/floor.mjs --no-disk
import { close, createWriteStream, fdatasync, fsync, open } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const dir = process.argv[2];
if (!dir) throw new Error('usage: floor.mjs DIR | --no-disk');
const noDisk = dir === '--no-disk';
let sequence = 0;

function fsyncDirectory(done) {
  open(dir, 'r', (error, fd) => {
    if (error) return done(error);
    fsync(fd, (syncError) => close(fd, () => done(syncError)));
  });
}

const server = new SMTPServer({
  logger: false,
  disabledCommands: ['AUTH', 'STARTTLS'],
  onData(stream, _session, callback) {
    if (noDisk) {
      stream.resume();
      stream.once('end', () => callback());
      return;
    }
    const path = join(dir, `${process.pid}-${++sequence}.eml`);
    open(path, 'wx', (error, fd) => {
      if (error) {
        stream.resume();
        stream.once('end', () => callback(error));
        return;
      }
      const file = createWriteStream('', { fd, autoClose: false });
      file.once('finish', () => {
        fdatasync(fd, (syncError) => {
          close(fd, () => {
            if (syncError) return callback(syncError);
            fsyncDirectory((dirError) => callback(dirError ?? null));
          });
        });
      });
      stream.pipe(file);
    });
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
