// Haraka queue plugin for the bench (copied into the throw-away Haraka directory as
// plugins/queue_fsync.js): each message is streamed to a file in $BENCH_HARAKA_QUEUE,
// the file fdatasynced and the directory fsynced, then next(OK) — the same durability
// before 250 as the floor and mailwharf. Runs in Haraka's plugin sandbox (CommonJS).
const fs = require('node:fs');
const path = require('node:path');

exports.register = function () {
  this.queueDir = process.env.BENCH_HARAKA_QUEUE;
};

exports.hook_queue = function (next, connection) {
  const txn = connection.transaction;
  const dir = this.queueDir;
  const file = path.join(dir, `${txn.uuid}.eml`);
  const fail = (error) => next(DENYSOFT, `queue_fsync: ${error.message}`);
  fs.open(file, 'wx', (error, fd) => {
    if (error) return fail(error);
    const out = fs.createWriteStream('', { fd, autoClose: false });
    out.once('error', fail);
    out.once('finish', () => {
      fs.fdatasync(fd, (syncError) => {
        fs.close(fd, () => {
          if (syncError) return fail(syncError);
          fs.open(dir, 'r', (dirError, dirFd) => {
            if (dirError) return fail(dirError);
            fs.fsync(dirFd, (dirSyncError) => {
              fs.close(dirFd, () => (dirSyncError ? fail(dirSyncError) : next(OK)));
            });
          });
        });
      });
    });
    txn.message_stream.pipe(out);
  });
};
