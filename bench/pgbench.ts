// The SQL yardstick (bench/yardstick/): pgbench of the tightest SQL for one allocation, on the
// same PostgreSQL server as the service, in a database of its own that the minimal Koa servers
// use too.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { summarize } from './load';
import type { BenchContext, Measurement } from './measure';
import { CpuMeter } from './proc';
import { nextXid } from './seed';

const run = promisify(execFile);
const DATABASE = 'yardstick';
export type YardstickScript = 'allocate' | 'allocate_hot' | 'read_view';

/** Debian keeps the real binary per version; /usr/bin/pgbench is a wrapper that picks one. */
function findPgbench(): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  const dirs = versions.map((v) => `/usr/lib/postgresql/${v}/bin`);
  dirs.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  const found = dirs.map((dir) => path.join(dir, 'pgbench')).find((file) => existsSync(file));
  if (found) return found;
  throw new Error(
    "pgbench was not found: it ships with PostgreSQL's server package (Debian: apt-get install " +
      'postgresql-15); install it, or run make bench ARGS=--no-yardstick for no ratios.',
  );
}

export class Yardstick {
  private constructor(
    private readonly dir: string,
    private readonly binary: string,
    /** The yardstick database's URL. */
    readonly url: string,
    readonly version: string,
  ) {}

  /** Finds pgbench, creates the yardstick's database anew and loads its schema and seed. */
  static async prepare(repoRoot: string, serverUrl: string) {
    const dir = path.join(repoRoot, 'bench', 'yardstick');
    const binary = findPgbench();
    const url = new URL(serverUrl);
    url.pathname = `/${DATABASE}`;
    // psql ships beside pgbench; it runs the scripts as they are (VACUUM outside a transaction)
    const psql = (...args: string[]) =>
      run(path.join(path.dirname(binary), 'psql'), ['-qX', '-v', 'ON_ERROR_STOP=1', ...args]);
    const database = [
      `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`,
      `CREATE DATABASE ${DATABASE}`,
    ];
    await psql(serverUrl, ...database.flatMap((statement) => ['-c', statement]));
    const scripts = ['schema.sql', 'seed.sql'].map((file) => path.join(dir, file));
    await psql(url.toString(), ...scripts.flatMap((file) => ['-f', file]));
    const version = (await run(binary, ['--version'])).stdout.trim();
    return new Yardstick(dir, binary, url.toString(), version);
  }

  /**
   * A warm-up run (not measured), then the measured run, as one of our measurements: per
   * transaction instead of per request, latencies from pgbench's per-transaction log, and no
   * service (CPU from the meter of the scenario it follows, connection set-up included).
   */
  async run(
    script: YardstickScript,
    clients: number,
    warmupSeconds: number,
    ctx: Pick<BenchContext, 'cpu' | 'pool' | 'durationMs'>,
  ): Promise<Measurement> {
    if (warmupSeconds > 0) {
      // a short warm-up on a busy machine may finish no transaction: nothing to read, no harm
      await this.pgbench(script, clients, warmupSeconds).catch(() => undefined);
    }
    const [from, xid] = [ctx.cpu.snapshot(), await nextXid(ctx.pool)];
    const seconds = ctx.durationMs / 1000;
    const { tps, processed, failed, latency } = await this.pgbench(script, clients, seconds, true);
    const cpu = { ...CpuMeter.usage(from, ctx.cpu.snapshot()), serviceMs: NaN };
    const writeTransactions = (await nextXid(ctx.pool)) - xid;
    const load = { concurrency: clients, seconds, requests: processed, throughput: tps, latency };
    const counts = { latency2xx: latency, statuses: {}, non2xx: failed, errors: 0 };
    return {
      scenario: `pgbench ${script}`,
      concurrency: clients,
      load: { ...load, ...counts },
      cpu,
      writeTransactions,
    };
  }

  private async pgbench(script: string, clients: number, seconds: number, log = false) {
    const logDir = log ? await fs.mkdtemp(path.join(os.tmpdir(), 'pgbench-')) : undefined;
    const args = ['-n', '-M', 'prepared', '-j', '2', '-c', `${clients}`, '-T', `${seconds}`];
    args.push('-f', path.join(this.dir, `${script}.pgbench`));
    if (logDir) args.push('-l', `--log-prefix=${path.join(logDir, 'tx')}`);
    try {
      const options = { maxBuffer: 16 * 1024 * 1024, cwd: logDir ?? os.tmpdir() };
      const { stdout } = await run(this.binary, [...args, this.url], options);
      const result = { ...parsePgbenchOutput(stdout), latency: summarize([]) };
      if (!logDir) return result;
      // pgbench -l lines: client_id transaction_no time_us script_no epoch_s epoch_us
      const latencies: number[] = [];
      for (const file of await fs.readdir(logDir)) {
        for (const line of (await fs.readFile(path.join(logDir, file), 'latin1')).split('\n')) {
          const fields = line.split(' ');
          if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
        }
      }
      return { ...result, latency: summarize(latencies) };
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`pgbench failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: error });
    } finally {
      if (logDir) await fs.rm(logDir, { recursive: true, force: true });
    }
  }
}

/** Transactions per second (without connection set-up), transactions done and failed. */
export function parsePgbenchOutput(stdout: string) {
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? NaN);
  const tps = number(/tps = ([\d.]+) \(without initial connection time\)/);
  if (Number.isNaN(tps)) throw new Error(`could not read tps from pgbench's output:\n${stdout}`);
  const processed = number(/number of transactions actually processed: (\d+)/);
  return { tps, processed, failed: number(/number of failed transactions: (\d+)/) || 0 };
}
