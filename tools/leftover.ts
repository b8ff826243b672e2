// A server of ours found running at start: a run that is ending (its watchdog is stopping the
// server), a run still going (its watchdog is alive: refuse, as two runs cannot share a data
// folder), or a leftover of a run that died with no watchdog (a machine crash, a run from before
// the watchdogs): stopped cleanly so a fresh server can start. Whether the process is ours at all
// (its data folder, its pid file) the caller decides: a server that is not ours never gets here.
import { liveOwner } from './watchdog';
import { isAlive, sleep, stopPid } from './server_process';

export interface RunningServer {
  name: string;
  pid: number;
  /** Its data folder, for messages. */
  where: string;
  signal: NodeJS.Signals;
  timeoutMs: number;
  guardFile: string;
}

/** A run that just ended (or died) may still be stopping its server: this long at most. */
const ENDING_RUN_MS = 10_000;

export async function stopLeftover(
  server: RunningServer,
  log: (msg: string) => void,
): Promise<void> {
  const { name, pid, where } = server;
  // While its watchdog lives, the run owning it is ending (the watchdog is stopping the server)
  // or still going; without one, nobody else will stop it.
  const deadline = Date.now() + ENDING_RUN_MS;
  while (isAlive(pid) && Date.now() < deadline && (await liveOwner(server.guardFile))) {
    await sleep(250);
  }
  if (!isAlive(pid)) return;
  const owner = await liveOwner(server.guardFile);
  if (owner !== undefined) {
    throw new Error(
      `${name} (pid ${pid}) on ${where} is in use by another run (pid ${owner}): stop that run first, or give this one another DEVENV_DATA_DIR`,
    );
  }
  log(`stopping ${name} (pid ${pid}) on ${where}, left over from an earlier run`);
  if (!(await stopPid(pid, server.signal, server.timeoutMs))) {
    throw new Error(
      `${name} (pid ${pid}) is already running on ${where}, probably left over from an earlier run, and we may not stop it: stop it with \`kill ${pid}\``,
    );
  }
}
