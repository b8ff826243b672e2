// Real service processes for process-level tests: started the way `make run` starts them
// (main.js with a role), stopped or killed by the test. Every process started here is tracked,
// so one a failed test left running is found and stopped at the end of the run (and named).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { findFreePort, hasExited, stopProcess } from '../../tools/server_process';
import { eventually } from './eventually';

const MAIN = path.resolve(__dirname, '../../src/allocation/entrypoints/main.js');
/** A graceful stop longer than this is a hang: the process is killed and the test goes on. */
const STOP_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 20_000;

export type Role = 'all' | 'api' | 'consumer';

export interface ServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once all output is read. */
  exited: Promise<number | null>;
  /** The process's stdout+stderr so far, for a failing test's message. */
  output(): string;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL if it hangs; resolves with the exit code (null if it was killed). */
  stop(): Promise<number | null>;
  /** SIGKILL if still running (a failed test must not leave one behind), and waits for it. */
  kill(): Promise<void>;
}

const started = new Set<ServiceProcess>();

/**
 * Starts `main.js role` with the test run's DATABASE_URL / REDIS_URL (or `env`'s), on a free
 * port unless `env.API_PORT` is given, and waits until /healthz answers (an API role) or the
 * process is running (a consumer: it has no HTTP port).
 */
export async function startServiceProcess(
  env: Record<string, string> = {},
  role: Role = 'all',
): Promise<ServiceProcess> {
  const port = env.API_PORT ? Number(env.API_PORT) : await findFreePort();
  const child = spawn(process.execPath, [MAIN, role], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      OUTBOX_POLL_MS: '200',
      // one process unless a test asks for more: a SIGKILL then hits the process that serves
      API_WORKERS: '1',
      // a relay killed by a test holds the relay lease until it lapses: keep that short
      OUTBOX_LEASE_MS: '1500',
      ...env,
      API_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // 'close' (not 'exit') comes after the last of its output.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  const service: ServiceProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    exited,
    output: () => output,
    isRunning: () => !hasExited(child),
    stop: async () => {
      await stopProcess(child, 'SIGTERM', STOP_TIMEOUT_MS);
      return exited;
    },
    kill: async () => {
      if (!hasExited(child)) child.kill('SIGKILL');
      await exited;
    },
  };
  started.add(service);
  void exited.then(() => started.delete(service));
  if (role !== 'consumer') {
    await eventually(async () => {
      if (hasExited(child)) throw new Error(`service exited early:\n${output}`);
      const response = await fetch(`${service.url}/healthz`);
      if (response.status !== 200) throw new Error(`healthz ${response.status}`);
    }, READY_TIMEOUT_MS).catch(async (error: unknown) => {
      await service.kill();
      throw error;
    });
  }
  return service;
}

/** Kills the service processes still running and says how many there were (see setup.ts). */
export async function killLeftoverServiceProcesses(): Promise<number> {
  const leftovers = [...started];
  await Promise.all(leftovers.map((service) => service.kill()));
  return leftovers.length;
}
