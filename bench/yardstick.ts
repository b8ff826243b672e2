// The yardstick (bench/yardstick/): pgbench of the tightest SQL for one allocation, on the same
// PostgreSQL server as the service, in a database of its own.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { CpuMeter } from './cpu';
import {
  connectionFromUrl,
  ensurePgbench,
  type PgbenchResult,
  pgbenchVersion,
  runPgbench,
} from './pgbench';

export const YARDSTICK_DATABASE = 'yardstick';
const FILES = [
  'schema.sql',
  'seed.sql',
  'allocate.pgbench',
  'allocate_hot.pgbench',
  'read_view.pgbench',
];

export type YardstickScript = 'allocate' | 'allocate_hot' | 'read_view';

/** `<repo>/bench/yardstick` (the repository's own copy), checked to hold the yardstick's files. */
export function locateYardstick(repoRoot: string): string {
  const dir = path.join(repoRoot, 'bench', 'yardstick');
  const missing = FILES.filter((file) => !existsSync(path.join(dir, file)));
  if (missing.length > 0) {
    throw new Error(
      `The yardstick is missing: ${dir} should hold ${missing.join(', ')} ` +
        '(the repository ships them in bench/yardstick/).',
    );
  }
  return dir;
}

export class Yardstick {
  private constructor(
    private readonly dir: string,
    private readonly binary: string,
    private readonly databaseUrl: string,
    readonly version: string,
  ) {}

  /** The yardstick's own database, which the minimal Koa servers use too. */
  get url(): string {
    return databaseUrlFor(this.databaseUrl);
  }

  /** Finds (or installs) pgbench, creates the yardstick database and loads its schema and seed. */
  static async prepare(
    dir: string,
    databaseUrl: string,
    log: (msg: string) => void,
  ): Promise<Yardstick> {
    const binary = ensurePgbench(log);
    const version = await pgbenchVersion(binary);
    await createDatabase(databaseUrl);
    const client = new Client({ connectionString: databaseUrlFor(databaseUrl) });
    await client.connect();
    try {
      for (const file of ['schema.sql', 'seed.sql']) {
        // One statement at a time, as psql -f does: VACUUM refuses a multi-statement string.
        for (const statement of splitSql(await fs.readFile(path.join(dir, file), 'utf8'))) {
          await client.query(statement);
        }
      }
    } finally {
      await client.end();
    }
    return new Yardstick(dir, binary, databaseUrl, version);
  }

  /** A warm-up run (not measured), then the measured run with per-transaction latencies. */
  async run(
    script: YardstickScript,
    clients: number,
    warmupSeconds: number,
    seconds: number,
    counters?: { cpu: CpuMeter; nextXid: () => Promise<number> },
  ): Promise<PgbenchResult> {
    const common = {
      binary: this.binary,
      connection: connectionFromUrl(this.databaseUrl, YARDSTICK_DATABASE),
      script: path.join(this.dir, `${script}.pgbench`),
      clients,
    };
    if (warmupSeconds > 0) {
      // A short warm-up on a busy machine may finish no transaction: nothing to read, no harm.
      await runPgbench({ ...common, seconds: warmupSeconds, latencies: false }).catch(() => {});
    }
    const from = counters && { cpu: counters.cpu.snapshot(), xid: await counters.nextXid() };
    const result = await runPgbench({ ...common, seconds, latencies: true });
    if (counters && from) {
      result.cpu = CpuMeter.usage(from.cpu, counters.cpu.snapshot());
      result.writeTransactions = (await counters.nextXid()) - from.xid;
    }
    return result;
  }
}

function databaseUrlFor(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${YARDSTICK_DATABASE}`;
  return parsed.toString();
}

async function createDatabase(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      YARDSTICK_DATABASE,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${YARDSTICK_DATABASE}`);
  } finally {
    await client.end();
  }
}

/** Splits a plain SQL script (no functions, no quoted semicolons) into statements. */
export function splitSql(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}
