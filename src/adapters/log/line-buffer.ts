/**
 * Buffered log lines (like nginx's `access_log ... buffer= flush=`): lines are collected and handed
 * to the destination together, once `maxBytes` have accumulated or `maxDelayMs` after the first
 * pending line, instead of one destination write per line.
 *
 * Every log line of the server (pino's and the hand-built hot-hit lines) goes through the one
 * buffer, so lines keep their order. Measured on the 2-core machine with the server pinned to one
 * core: a hot-cache hit cost 93–98 µs of CPU with one asynchronous stdout write per line and 85–88
 * µs buffered (docs/operations-perf.md, "Hot path"). The price: a line reaches stdout up to
 * `maxDelayMs` later, and a process killed with SIGKILL loses what was pending (at most that long;
 * a normal exit, an uncaught exception or close() write it synchronously).
 */

export interface LineDestination {
  /** Takes a chunk of whole lines (asynchronous destinations queue it). */
  write(chunk: string): unknown;
  /** Writes what the destination itself still queues, synchronously. */
  flushSync?(): void;
}

export interface LineBufferOptions {
  /** Hand the pending lines over once they reach this many UTF-16 units (default 16 KiB). */
  readonly maxBytes?: number;
  /** Hand them over at the latest this long after the first pending line (default 100 ms). */
  readonly maxDelayMs?: number;
  /** Synchronous write of a chunk (used at exit and by flushSync, after the destination's own queue). */
  readonly writeSync: (chunk: string) => void;
}

export interface LineBuffer {
  write(line: string): boolean;
  /** Hands the pending lines to the destination now. */
  flush(): void;
  /** Writes everything pending, the destination's queue first, synchronously (close, exit). */
  flushSync(): void;
}

export function createLineBuffer(dest: LineDestination, opts: LineBufferOptions): LineBuffer {
  const maxBytes = opts.maxBytes ?? 16 * 1024;
  const maxDelayMs = opts.maxDelayMs ?? 100;
  let pending: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;

  function take(): string {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const chunk = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    size = 0;
    return chunk;
  }

  function flush(): void {
    if (pending.length > 0) dest.write(take());
  }

  return {
    write(line) {
      pending.push(line);
      size += line.length;
      if (size >= maxBytes) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, maxDelayMs);
        timer.unref();
      }
      return true;
    },
    flush,
    flushSync() {
      const chunk = pending.length > 0 ? take() : '';
      dest.flushSync?.();
      if (chunk !== '') opts.writeSync(chunk);
    },
  };
}
