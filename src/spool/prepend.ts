import { close, open, read, rename, unlink, writev } from 'node:fs';
import { promisify } from 'node:util';

const openFd = promisify(open);
const readFd = promisify(read);
const writevFd = promisify(writev);
const closeFd = promisify(close);
const renameFile = promisify(rename);
const unlinkFile = promisify(unlink);

/** The copy's buffer: what a large message costs in memory while its header goes on top. */
const COPY_CHUNK = 64 * 1024;

async function writeAll(fd: number, data: Buffer): Promise<void> {
  let rest = data;
  while (rest.length > 0) {
    const { bytesWritten } = await writevFd(fd, [rest]);
    if (bytesWritten === 0) throw new Error('write made no progress');
    rest = rest.subarray(bytesWritten);
  }
}

/**
 * Puts `header` in front of the `length` bytes of the open file `fd` at `path`, for a header
 * known only once the whole message is on disk (Authentication-Results needs the DKIM body
 * hash). A file cannot grow at its start, so this writes a new one beside it, the header then
 * the old bytes in COPY_CHUNK pieces, and renames it over the old; nothing is durable yet (the
 * caller fdatasyncs before the commit). Closes `fd`; resolves with the new file's descriptor,
 * positioned at its end. Messages small enough to be held in memory never come here.
 */
export async function prependToFile(
  fd: number,
  path: string,
  length: number,
  header: Buffer,
): Promise<number> {
  const staged = `${path}.prepend`;
  const target = await openFd(staged, 'wx', 0o640);
  // The spool file was opened write-only: its bytes are read through a descriptor of their own.
  let source: number | undefined;
  try {
    source = await openFd(path, 'r');
    await writeAll(target, header);
    const chunk = Buffer.allocUnsafe(COPY_CHUNK);
    for (let position = 0; position < length;) {
      const { bytesRead } = await readFd(source, chunk, 0, Math.min(COPY_CHUNK, length - position), position);
      if (bytesRead === 0) throw new Error('spool file shorter than written');
      await writeAll(target, chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
    await renameFile(staged, path);
  } catch (error) {
    await closeFd(target).catch(() => undefined);
    await unlinkFile(staged).catch(() => undefined);
    throw error;
  } finally {
    if (source !== undefined) await closeFd(source).catch(() => undefined);
  }
  await closeFd(fd);
  return target;
}
