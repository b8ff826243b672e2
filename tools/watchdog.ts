// A server we start must not outlive the process that needs it, however that process dies: a
// closed terminal, the OOM killer, `kill -9` of the whole process group, a CI timeout.
//
// How: next to each server runs a tiny watchdog process that holds the read end of a pipe whose
// only write end is ours. When our process dies, the kernel closes its descriptors (SIGKILL
// included), the watchdog reads end-of-file and stops the server cleanly (PostgreSQL's fast
// shutdown, Redis's SIGTERM), killing it only if it has not stopped in time. The watchdog runs
// detached (a process group of its own), so killing our group does not take it along.
//
// Why not prctl(PR_SET_PDEATHSIG): Node has no API for it; `setpriv --pdeathsig` could set it
// before exec, but it is Linux-only, the signal fires when the spawning *thread* exits, and a
// bare signal cannot escalate when a server does not stop. Neither PostgreSQL nor redis-server
// can watch a parent themselves. A pipe works for both servers, on Linux and macOS alike.
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs, writeFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { isAlive } from './server_process';

/** Its $0: how a watchdog is recognised in the process table (see liveOwner). */
const NAME = 'devenv-watchdog';

/**
 * The watchdog: $1 the server's pid, $2 its stop signal, $3 tenths of a second before KILL.
 * POSIX sh rather than Node: a few hundred kB instead of about 40 MB per server. The server's
 * executable is read at start, so a pid reused after the server exited is never signalled. A
 * terminal's Ctrl+C or hang-up is for the app: only the end of the pipe stops it.
 */
const SCRIPT = `
exe=$(readlink "/proc/$1/exe" 2>/dev/null)
trap '' INT HUP
while read -r _; do :; done
[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$exe" ] || exit 0
kill -s "$2" "$1" 2>/dev/null || exit 0
n=0
while kill -0 "$1" 2>/dev/null; do
  if [ "$n" -ge "$3" ]; then kill -s KILL "$1"; exit 0; fi
  sleep 0.1
  n=$((n + 1))
done
`;

export interface WatchOptions {
  /** The signal that stops the server cleanly. */
  signal: NodeJS.Signals;
  /** How long a clean stop may take before the server is killed. */
  timeoutMs: number;
  /**
   * Where to record "watchdog pid, our pid" while the server runs, so that a later start tells a
   * server still in use by a live run from one left over by a dead run (see leftover.ts).
   */
  guardFile?: string;
}

/** Starts a watchdog for a server we just spawned; it is released when the server exits. */
export function watch(server: ChildProcess, options: WatchOptions): void {
  if (server.pid === undefined) return; // never ran: nothing to watch
  const signal = options.signal.replace(/^SIG/, '');
  const tenths = String(Math.ceil(options.timeoutMs / 100));
  const watchdog = spawn('/bin/sh', ['-c', SCRIPT, NAME, String(server.pid), signal, tenths], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // A watchdog that failed to start must not take the run down: the next start still finds the
  // server and stops it (leftover.ts).
  watchdog.on('error', () => undefined);
  // Neither the watchdog nor its pipe may keep our event loop alive: they exist for our death.
  watchdog.unref();
  const pipe = watchdog.stdin as Socket | null;
  pipe?.unref();
  pipe?.on('error', () => undefined);
  const { guardFile } = options;
  if (guardFile && watchdog.pid !== undefined) {
    writeFileSync(guardFile, `${watchdog.pid} ${process.pid}\n`);
  }
  // We stopped the server ourselves (or it died): closing our end lets the watchdog just exit.
  server.once('exit', () => {
    pipe?.destroy();
    if (guardFile) rmSync(guardFile, { force: true });
  });
}

/** The pid of the live run that holds the server recorded in `guardFile`, if there is one. */
export async function liveOwner(guardFile: string): Promise<number | undefined> {
  const text = await fs.readFile(guardFile, 'utf8').catch(() => '');
  const [watchdogPid, ownerPid] = text.trim().split(' ').map(Number);
  if (!watchdogPid || !ownerPid || !isAlive(watchdogPid)) return undefined;
  // The pid may have been reused since: only a watchdog counts (no /proc: assume it is one).
  const cmdline = await fs.readFile(`/proc/${watchdogPid}/cmdline`, 'utf8').catch(() => NAME);
  return cmdline.split('\0').includes(NAME) ? ownerPid : undefined;
}
