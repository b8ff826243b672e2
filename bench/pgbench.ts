// Finding pgbench (installing Debian's postgresql-15 when we may), running it, reading its output.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CpuUsage } from './cpu';
import { type LatencySummary, Samples, summarize } from './stats';

const run = promisify(execFile);

const HOW_TO_GET =
  'pgbench was not found. It ships with Debian\'s postgresql-15 package: run "apt-get update && ' +
  'apt-get install -y postgresql-15" as root (or install your distribution\'s PostgreSQL ' +
  'client/server package that contains pgbench), then run make bench again.';

/** Debian keeps the real binary per version; /usr/bin/pgbench is a wrapper that picks one. */
function findPgbench(): string | undefined {
  const versions = (() => {
    try {
      return readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    } catch {
      return [];
    }
  })();
  for (const version of ['15', ...versions]) {
    const candidate = `/usr/lib/postgresql/${version}/bin/pgbench`;
    if (existsSync(candidate)) return candidate;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'pgbench');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The pgbench to use; installs postgresql-15 with apt-get when missing and we are root. */
export function ensurePgbench(log: (msg: string) => void): string {
  const found = findPgbench();
  if (found) return found;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) throw new Error(HOW_TO_GET);
  log("pgbench is missing: installing Debian's postgresql-15 with apt-get (about a minute)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'postgresql-15']]) {
    const result = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed. ${HOW_TO_GET}`);
  }
  const installed = findPgbench();
  if (!installed)
    throw new Error(`postgresql-15 was installed but no pgbench appeared. ${HOW_TO_GET}`);
  return installed;
}

export async function pgbenchVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version']);
  return stdout.trim();
}

export interface Connection {
  host: string;
  port: string;
  user: string;
  password: string;
  database: string;
}

export function connectionFromUrl(url: string, database: string): Connection {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port || '5432',
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
    database,
  };
}

export interface PgbenchOptions {
  binary: string;
  connection: Connection;
  script: string;
  clients: number;
  seconds: number;
  /** Write per-transaction latencies and summarise them (p50/p90/p99). */
  latencies: boolean;
}

export interface PgbenchResult {
  clients: number;
  tps: number;
  latencyAverageMs: number;
  /** From the per-transaction log; undefined unless asked for. */
  latency?: LatencySummary;
  failed: number;
  processed: number;
  /** CPU used during the measured run (connection set-up included). */
  cpu?: CpuUsage;
  /** Write transactions PostgreSQL counted during the measured run. */
  writeTransactions?: number;
}

export async function runPgbench(options: PgbenchOptions): Promise<PgbenchResult> {
  const { connection } = options;
  const logDir = options.latencies
    ? await fs.mkdtemp(path.join(os.tmpdir(), 'pgbench-'))
    : undefined;
  const args = [
    ...['-h', connection.host, '-p', connection.port, '-U', connection.user],
    ...['-n', '-M', 'prepared', '-j', '2', '-c', String(options.clients)],
    ...['-T', String(options.seconds), '-f', options.script],
    ...(logDir ? ['-l', `--log-prefix=${path.join(logDir, 'tx')}`] : []),
    connection.database,
  ];
  try {
    const { stdout } = await run(options.binary, args, {
      env: { ...process.env, PGPASSWORD: connection.password },
      maxBuffer: 16 * 1024 * 1024,
      cwd: logDir ?? os.tmpdir(),
    });
    const result = parsePgbenchOutput(stdout, options.clients);
    if (logDir) result.latency = await readTransactionLog(logDir);
    return result;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`pgbench failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: error });
  } finally {
    if (logDir) await fs.rm(logDir, { recursive: true, force: true });
  }
}

export function parsePgbenchOutput(stdout: string, clients: number): PgbenchResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(stdout);
    return match ? Number(match[1]) : NaN;
  };
  const tps = number(/tps = ([\d.]+) \(without initial connection time\)/);
  if (Number.isNaN(tps)) throw new Error(`could not read tps from pgbench's output:\n${stdout}`);
  return {
    clients,
    tps,
    latencyAverageMs: number(/latency average = ([\d.]+) ms/),
    failed: number(/number of failed transactions: (\d+)/) || 0,
    processed: number(/number of transactions actually processed: (\d+)/),
  };
}

/** pgbench -l lines: client_id transaction_no time_us script_no epoch_s epoch_us ... */
async function readTransactionLog(dir: string): Promise<LatencySummary> {
  const samples = new Samples();
  for (const file of await fs.readdir(dir)) {
    const text = await fs.readFile(path.join(dir, file), 'latin1');
    let lineStart = 0;
    while (lineStart < text.length) {
      let lineEnd = text.indexOf('\n', lineStart);
      if (lineEnd < 0) lineEnd = text.length;
      const fields = text.slice(lineStart, lineEnd).split(' ');
      if (fields.length >= 3) samples.push(Number(fields[2]) / 1000);
      lineStart = lineEnd + 1;
    }
  }
  return summarize(samples.values());
}
