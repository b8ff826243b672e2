// The servers under test, each a process of its own on a free port: the service, started the
// way `make run` starts it (main.js all), and the minimal yardstick servers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findFreePort, hasExited, sleep, stopProcess } from '../tools/server_process';

export interface ServerProcess {
  host: string;
  port: number;
  pid: number;
  /** What it printed (the service logs at warn and above), for the report. */
  output(): string[];
  stop(): Promise<void>;
}

export interface ProcessOptions {
  script: string;
  args?: string[];
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  env: Record<string, string>;
  /** Answered 200 once the server is ready; without it, any HTTP answer will do. */
  readyPath?: string;
  cwd?: string;
}

export interface ServiceOptions {
  repoRoot: string;
  databaseUrl: string;
  redisUrl: string;
  nodeArgs?: string[];
  /** API_WORKERS for the service (default 1). */
  apiWorkers?: number;
}

/** The service as `make run` starts it: main.js all, ready once GET /readyz answers 200. */
export function startService(options: ServiceOptions): Promise<ServerProcess> {
  return startProcess({
    script: path.join(options.repoRoot, 'dist/src/allocation/entrypoints/main.js'),
    args: ['all'],
    nodeArgs: options.nodeArgs,
    cwd: options.repoRoot,
    readyPath: '/readyz',
    env: {
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      LOG_LEVEL: 'warn',
      // One process unless asked: the targets (RSS included) are per process; scale-out is
      // measured separately.
      API_WORKERS: String(options.apiWorkers ?? 1),
    },
  });
}

const READY_TIMEOUT_MS = 60_000;
// the same node flags as `make run` (package.json's start script): a heap ceiling keeps RSS near
// 120 MB instead of letting V8 grow the heap lazily; the young generation's size is the
// Dockerfile's (its comment says why 16 MB)
const HEAP_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=128'];

export async function startProcess(options: ProcessOptions): Promise<ServerProcess> {
  const port = await findFreePort();
  const host = '127.0.0.1';
  const child = spawn(
    process.execPath,
    [...HEAP_FLAGS, ...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])],
    {
      cwd: options.cwd,
      // PORT for the minimal servers, API_* for the service
      env: { ...process.env, ...options.env, PORT: `${port}`, API_HOST: host, API_PORT: `${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '' && lines.length < 10_000) lines.push(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const url = `http://${host}:${port}${options.readyPath ?? '/'}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited(child))
      throw new Error(`${options.script} exited early:\n${lines.slice(-20).join('\n')}`);
    const status = await fetch(url).then(
      (response) => response.status,
      () => 0,
    );
    if (options.readyPath ? status === 200 : status > 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${options.script} was not ready in ${READY_TIMEOUT_MS} ms:\n${lines.join('\n')}`,
      );
    }
    await sleep(100);
  }
  return {
    host,
    port,
    pid: child.pid as number,
    output: () => [...lines],
    stop: () => stopProcess(child, 'SIGTERM', 20_000),
  };
}

export interface RssPeak {
  /** Largest total over the process and its descendants (cluster workers), MB. */
  totalMb: number;
  /** Largest single process, MB. */
  largestMb: number;
  /** Most processes seen at once. */
  processes: number;
}

/**
 * Samples the resident memory of a process and its descendants (the service may fork API
 * workers) from /proc every `everyMs`; `stop()` returns the peaks.
 */
export function sampleRss(pid: number, everyMs = 100): { stop(): RssPeak } {
  const peak: RssPeak = { totalMb: 0, largestMb: 0, processes: 0 };
  const sample = (): void => {
    const each = treeRssKb(pid);
    peak.totalMb = Math.max(peak.totalMb, each.reduce((a, b) => a + b, 0) / 1024);
    peak.largestMb = Math.max(peak.largestMb, ...each.map((kb) => kb / 1024));
    peak.processes = Math.max(peak.processes, each.length);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** VmRSS (kB) of `pid` and of each of its descendants. */
function treeRssKb(pid: number): number[] {
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop() as number;
    try {
      const status = readFileSync(`/proc/${current}/status`, 'utf8');
      found.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      const children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8');
      for (const child of children.split(/\s+/)) if (child) pending.push(Number(child));
    } catch {
      // gone, or no /proc: nothing to add
    }
  }
  return found;
}
