import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { findOrInstall } from './debian_packages';
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
  const binary = await findOrInstall('redis-server', 'redis-server', opts.log, ' or set REDIS_URL');
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
