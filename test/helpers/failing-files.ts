import { realFiles, type JournalFiles } from '../../src/spool/journal-files.js';

export type FileCall = keyof JournalFiles;
export type InjectedCode = 'EIO' | 'ENOSPC' | 'EACCES';

/** One call as the journal made it: the path it named, or the path of the descriptor it used. */
export interface LoggedCall {
  readonly call: FileCall;
  readonly path: string;
  readonly failed: boolean;
}

interface PlannedFailure {
  readonly call: FileCall;
  readonly code: InjectedCode;
  readonly path: RegExp | undefined;
  /** Matching calls still let through before the first failure. */
  after: number;
  /** Matching calls still to fail. */
  times: number;
  /** writev only: bytes still written (a short write) before the disk is full. */
  room: number;
}

interface PlannedAction {
  readonly call: FileCall;
  readonly path: RegExp;
  readonly action: () => Promise<void>;
}

const ERRNO: Record<InjectedCode, number> = { EIO: -5, ENOSPC: -28, EACCES: -13 };

/**
 * The journal's file operations (JournalFiles) on the real disk, with chosen calls failing as a
 * sick or full disk fails them: deterministic, per instance. Every call is logged with its path,
 * so a test can check what the journal did after a failure, and in what order.
 */
export class FailingFiles implements JournalFiles {
  readonly log: LoggedCall[] = [];
  private readonly failures: PlannedFailure[] = [];
  private readonly actions: PlannedAction[] = [];
  private readonly paths = new Map<number, string>();

  /**
   * The next matching call of `call` fails with `code` (`times` of them, after letting `after`
   * through). `room`, for writev: that many bytes are written first, as a short write, and the
   * call after it fails, as on a disk that fills up mid-write.
   */
  fail(
    call: FileCall,
    code: InjectedCode,
    options: { path?: RegExp; after?: number; times?: number; room?: number } = {},
  ): void {
    this.failures.push({
      call,
      code,
      path: options.path,
      after: options.after ?? 0,
      times: options.times ?? 1,
      room: options.room ?? 0,
    });
  }

  /** Runs `action` once, before the next call of `call` on a path matching `path` goes ahead. */
  before(call: FileCall, path: RegExp, action: () => Promise<void>): void {
    this.actions.push({ call, path, action });
  }

  /** The calls logged so far, as "call path" lines with the path relative to `root`. */
  calls(root: string, from = 0): string[] {
    return this.log.slice(from).map(({ call, path, failed }) => {
      const relative = path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path === root ? '.' : path;
      return `${call} ${relative}${failed ? ' FAILED' : ''}`;
    });
  }

  readonly open = async (path: string, flags: number, mode: number): Promise<number> => {
    await this.enter('open', path, this.planned('open', path));
    const fd = await realFiles.open(path, flags, mode);
    this.paths.set(fd, path);
    return fd;
  };

  readonly openDirectory = async (path: string): Promise<number> => {
    await this.enter('openDirectory', path, this.planned('openDirectory', path));
    const fd = await realFiles.openDirectory(path);
    this.paths.set(fd, path);
    return fd;
  };

  readonly writev = async (fd: number, chunks: readonly Buffer[]): Promise<{ bytesWritten: number }> => {
    const path = this.pathOf(fd);
    const planned = this.planned('writev', path);
    if (planned && planned.room > 0) {
      const room = planned.room;
      planned.room = 0;
      this.log.push({ call: 'writev', path, failed: false });
      return realFiles.writev(fd, [Buffer.concat(chunks).subarray(0, room)]);
    }
    await this.enter('writev', path, planned);
    return realFiles.writev(fd, chunks);
  };

  readonly fdatasync = async (fd: number): Promise<void> => {
    const path = this.pathOf(fd);
    await this.enter('fdatasync', path, this.planned('fdatasync', path));
    await realFiles.fdatasync(fd);
  };

  readonly fsync = async (fd: number): Promise<void> => {
    const path = this.pathOf(fd);
    await this.enter('fsync', path, this.planned('fsync', path));
    await realFiles.fsync(fd);
  };

  readonly ftruncate = async (fd: number, length: number): Promise<void> => {
    const path = this.pathOf(fd);
    await this.enter('ftruncate', path, this.planned('ftruncate', path));
    await realFiles.ftruncate(fd, length);
  };

  readonly close = async (fd: number): Promise<void> => {
    const path = this.pathOf(fd);
    this.paths.delete(fd);
    await this.enter('close', path, this.planned('close', path));
    await realFiles.close(fd);
  };

  readonly unlink = async (path: string): Promise<void> => {
    await this.enter('unlink', path, this.planned('unlink', path));
    await realFiles.unlink(path);
  };

  readonly rename = async (from: string, to: string): Promise<void> => {
    await this.enter('rename', from, this.planned('rename', from));
    await realFiles.rename(from, to);
  };

  readonly copyFile = async (from: string, to: string): Promise<void> => {
    await this.enter('copyFile', to, this.planned('copyFile', to));
    await realFiles.copyFile(from, to);
  };

  readonly link = async (existing: string, path: string): Promise<void> => {
    await this.enter('link', path, this.planned('link', path));
    await realFiles.link(existing, path);
  };

  private pathOf(fd: number): string {
    return this.paths.get(fd) ?? `fd ${String(fd)}`;
  }

  /** The failure planned for this call, if one applies now (counting it as used). */
  private planned(call: FileCall, path: string): PlannedFailure | undefined {
    const planned = this.failures.find((f) => f.call === call && f.times > 0 && (f.path?.test(path) ?? true));
    if (!planned) return undefined;
    if (planned.after > 0) {
      planned.after -= 1;
      return undefined;
    }
    if (planned.room === 0) planned.times -= 1;
    return planned;
  }

  /** Logs the call, runs an action planned before it, and throws if it is to fail. */
  private async enter(call: FileCall, path: string, planned: PlannedFailure | undefined): Promise<void> {
    const index = this.actions.findIndex((a) => a.call === call && a.path.test(path));
    const action = this.actions[index];
    if (action) {
      this.actions.splice(index, 1);
      await action.action();
    }
    this.log.push({ call, path, failed: planned !== undefined });
    if (planned) {
      throw Object.assign(new Error(`${planned.code}: injected failure, ${call} '${path}'`), {
        code: planned.code,
        errno: ERRNO[planned.code],
        syscall: call,
        path,
      });
    }
  }
}
