import { type ChildProcess, spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  captureOutput,
  exitDescription,
  findFreePort,
  hasExited,
  sleep,
  stopOnExit,
  stopProcess,
} from './server_process';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const NOT_FOUND =
  'redis-server not found: install Redis (e.g. apt-get install redis-server) or set REDIS_URL';

export interface LocalRedisHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts redis-server again on the same port after stop(); it starts empty. */
  start(): Promise<void>;
}

export async function startLocalRedis(opts: {
  port?: number;
  log: (msg: string) => void;
}): Promise<LocalRedisHandle> {
  const binary = await findOrInstallRedis(opts.log);
  const port = opts.port ?? (await findFreePort());
  let child: ChildProcess | undefined = await spawnRedis(binary, port, opts.log);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      const running = child;
      child = undefined;
      if (running) await stopProcess(running, 'SIGTERM', STOP_TIMEOUT_MS);
    },
    async start() {
      child ??= await spawnRedis(binary, port, opts.log);
    },
  };
}

async function findOrInstallRedis(log: (msg: string) => void): Promise<string> {
  const found = await findOnPath('redis-server');
  if (found) return found;
  const canInstall = process.getuid?.() === 0 && (await findOnPath('apt-get')) !== undefined;
  if (!canInstall) throw new Error(NOT_FOUND);
  log('redis-server not found: installing Debian package redis-server with apt-get');
  const startedAt = Date.now();
  await run('apt-get', ['update']);
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server']);
  log(`installed redis-server in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  const installed = await findOnPath('redis-server');
  if (!installed) throw new Error(NOT_FOUND);
  return installed;
}

async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    const executable = await fs.access(candidate, fsConstants.X_OK).then(
      () => true,
      () => false,
    );
    if (executable) return candidate;
  }
  return undefined;
}

/** Runs a command quietly; its output is only worth showing when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      reject(new Error(`\`${command} ${args.join(' ')}\` failed (exit ${code}):\n${output}`));
    });
  });
}

/**
 * Our own server on a free port, with no persistence: tests must not depend on (or disturb) a
 * system redis that Debian's package may have started on 6379.
 */
async function spawnRedis(
  binary: string,
  port: number,
  log: (msg: string) => void,
): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  // detached: a Ctrl+C in the terminal reaches the whole foreground process group; redis should
  // stay up until the app it serves has shut down and we stop it ourselves.
  const child = spawn(binary, [...args, '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = captureOutput(child, 'redis', log);
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  stopOnExit(child, 'SIGTERM');
  try {
    await Promise.race([waitUntilReady(child, port), spawnFailed]);
  } catch (err) {
    // No pid means it never ran, and there would be no 'exit' to wait for.
    if (child.pid !== undefined) await stopProcess(child, 'SIGTERM', STOP_TIMEOUT_MS);
    throw new Error(
      `redis-server failed to start on port ${port}: ${(err as Error).message}\n${output()}`,
      { cause: err },
    );
  }
  return child;
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
