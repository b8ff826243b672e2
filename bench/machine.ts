// What the numbers were measured on: the machine, the versions, the commit, the date.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';

export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  redis: string;
  pgbench: string;
  commit: string;
}

export async function describeMachine(
  pool: Pool,
  redisUrl: string,
  pgbench: string,
  repoRoot: string,
): Promise<MachineInfo> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
  const redis = new Redis(redisUrl);
  const redisVersion = await redis
    .info('server')
    .then((info) => /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown')
    .finally(() => redis.disconnect());
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: rows[0].server_version,
    redis: redisVersion,
    pgbench,
    commit: gitCommit(repoRoot),
  };
}

function cpuModel(): string {
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

function gitCommit(repoRoot: string): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${commit} (modified)` : commit;
  } catch {
    return 'unknown';
  }
}
