import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findOrInstall } from './debian_packages';
import {
  captureOutput,
  exitDescription,
  findFreePort,
  hasExited,
  isAlive,
  procLink,
  readPid,
  sleep,
  stopOnExit,
  stopProcess,
} from './server_process';
import { stopLeftover } from './leftover';
import { watch } from './watchdog';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
/** Redis shuts down cleanly on SIGTERM (no persistence configured, so nothing is saved). */
const STOP_SIGNAL = 'SIGTERM';
const PID_FILE = 'redis.pid';
const GUARD_FILE = 'devenv_watchdog.pid';

export interface LocalRedisHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts redis-server again on the same port after stop(); it starts empty. */
  start(): Promise<void>;
}

export interface LocalRedisOptions {
  port?: number;
  /**
   * Its working folder, holding its pid file: with one, a redis-server left running by an
   * earlier run on the same folder is recognised and stopped before this one starts.
   */
  dir?: string;
  log: (msg: string) => void;
  /** More redis-server arguments (the Redis Cluster starter's `--cluster-enabled yes`...). */
  args?: string[];
}

export async function startLocalRedis(opts: LocalRedisOptions): Promise<LocalRedisHandle> {
  const binary = await findOrInstall('redis-server', 'redis-server', opts.log, ' or set REDIS_URL');
  const port = opts.port ?? (await findFreePort());
  const server: RedisConfig = { binary, port, dir: opts.dir, log: opts.log, args: opts.args ?? [] };
  let child: ChildProcess | undefined = await spawnRedis(server);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      const running = child;
      child = undefined;
      if (running) await stopProcess(running, STOP_SIGNAL, STOP_TIMEOUT_MS);
    },
    async start() {
      child ??= await spawnRedis(server);
    },
  };
}

interface RedisConfig {
  binary: string;
  port: number;
  dir: string | undefined;
  log: (msg: string) => void;
  args: string[];
}

/**
 * Our own server on a free port, with no persistence: tests must not depend on (or disturb) a
 * system redis that Debian's package may have started on 6379.
 */
async function spawnRedis({ binary, port, dir, log, ...more }: RedisConfig): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push(...more.args);
  if (dir) {
    await fs.mkdir(dir, { recursive: true });
    await clearLeftover(binary, dir, log);
    args.push('--dir', dir, '--pidfile', path.join(dir, PID_FILE));
  }
  // detached: a Ctrl+C in the terminal reaches the whole foreground process group; redis should
  // stay up until the app it serves has shut down and we stop it ourselves.
  const child = spawn(binary, [...args, '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = captureOutput(child, 'redis', log);
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  stopOnExit(child, STOP_SIGNAL);
  const guardFile = dir && path.join(dir, GUARD_FILE);
  watch(child, { signal: STOP_SIGNAL, timeoutMs: STOP_TIMEOUT_MS, guardFile });
  try {
    await Promise.race([waitUntilReady(child, port), spawnFailed]);
  } catch (err) {
    // No pid means it never ran, and there would be no 'exit' to wait for.
    if (child.pid !== undefined) await stopProcess(child, STOP_SIGNAL, STOP_TIMEOUT_MS);
    throw new Error(
      `redis-server failed to start on port ${port}: ${(err as Error).message}\n${output()}`,
      { cause: err },
    );
  }
  return child;
}

/**
 * redis-server writes its pid file and removes it when it stops cleanly; a file left behind names
 * a server that was killed, or one that still runs. It is ours only if that pid runs this
 * redis-server binary in this very folder (redis rewrites its command line, so we compare the
 * executable and the working folder); a pid reused by anything else is never touched.
 */
async function clearLeftover(binary: string, dir: string, log: (msg: string) => void) {
  const pidFile = path.join(dir, PID_FILE);
  const pid = await readPid(pidFile);
  if (pid === undefined) return;
  const [exe, cwd, ourExe, ourDir] = await Promise.all([
    procLink(pid, 'exe'),
    procLink(pid, 'cwd'),
    fs.realpath(binary),
    fs.realpath(dir),
  ]);
  if (isAlive(pid) && exe === ourExe && cwd === ourDir) {
    const server = { name: 'redis-server', pid, where: dir, guardFile: path.join(dir, GUARD_FILE) };
    await stopLeftover({ ...server, signal: STOP_SIGNAL, timeoutMs: STOP_TIMEOUT_MS }, log);
  }
  await fs.rm(pidFile, { force: true });
}

async function waitUntilReady(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`it exited (${exitDescription(child)})`);
    if (await answersPing(port)) return;
    await sleep(50);
  }
  throw new Error(`no PONG within ${READY_TIMEOUT_MS / 1000} s`);
}

/** A raw RESP PING keeps start-up free of client retry logic and its noise. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
