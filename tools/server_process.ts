// What the two local servers (PostgreSQL, Redis) share: we spawn them detached, so Ctrl-C in a
// terminal reaches our app first, which means we must also stop them ourselves.
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';

/** Asks the kernel for a port nobody listens on; there is a small race until we bind it. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function isVerbose(): boolean {
  return Boolean(process.env.DEVENV_VERBOSE);
}

/** Keeps the last 4 kB of a server's output (for an error message); echoes it when verbose. */
export function captureOutput(
  child: ChildProcess,
  name: string,
  log: (msg: string) => void,
): () => string {
  let tail = '';
  const record = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
    if (isVerbose()) log(`${name}: ${chunk.toString().trimEnd()}`);
  };
  child.stdout?.on('data', record);
  child.stderr?.on('data', record);
  return () => tail.trimEnd();
}

const liveServers = new Map<ChildProcess, NodeJS.Signals>();

/** A detached server would outlive us if we exit without stopping it; 'exit' handlers are sync. */
export function stopOnExit(child: ChildProcess, signal: NodeJS.Signals): void {
  if (liveServers.size === 0) {
    process.on('exit', () => liveServers.forEach((sig, server) => server.kill(sig)));
  }
  liveServers.set(child, signal);
  child.once('exit', () => liveServers.delete(child));
}

/** Asks with `signal`, waits up to `timeoutMs`, then kills. */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<void> {
  if (await signalAndWait(child, signal, timeoutMs)) return;
  await signalAndWait(child, 'SIGKILL', timeoutMs);
}

async function signalAndWait(
  child: ChildProcess,
  signal: NodeJS.Signals,
  ms: number,
): Promise<boolean> {
  if (hasExited(child)) return true;
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  child.kill(signal);
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  return result;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exitDescription(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while `pid` exists (EPERM: it exists but belongs to someone we cannot signal). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops a process that is not our child (so there is no 'exit' event to wait for): asks with
 * `signal`, polls until it is gone, and kills it after `timeoutMs`. False when we may not
 * signal it (another user's process).
 */
export async function stopPid(
  pid: number,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<boolean> {
  for (const sig of [signal, 'SIGKILL'] as const) {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      return false;
    }
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
      if (!isAlive(pid)) return true;
    }
  }
  return !isAlive(pid);
}

/** /proc/<pid>/exe or cwd, resolved; undefined when the process is gone or there is no /proc. */
export async function procLink(pid: number, link: 'exe' | 'cwd'): Promise<string | undefined> {
  return fs.readlink(`/proc/${pid}/${link}`).catch(() => undefined);
}

/** The first number in a pid file, or undefined when there is no such file. */
export async function readPid(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
