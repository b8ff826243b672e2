import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import {
  captureOutput,
  exitDescription,
  findFreePort,
  hasExited,
  isAlive,
  readPid,
  sleep,
  stopOnExit,
  stopProcess,
} from './server_process';
import { stopLeftover } from './leftover';
import { watch } from './watchdog';
import {
  initialiseIfNew,
  makeParentsTraversable,
  PASSWORD,
  postgresBinary,
  USER,
  userIds,
} from './postgres_cluster';

const DATABASE = 'allocation';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** Postgres's "fast" shutdown: roll back open transactions, checkpoint, exit. */
const STOP_SIGNAL = 'SIGINT';

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

/**
 * The package initialises the cluster (creating the `postgres` user when we are root), but we
 * run the server process ourselves: the package spawns it in our process group, where a
 * terminal's Ctrl+C shuts the database down while the app is still shutting down gracefully,
 * and its stop() waits forever when the server already died (fault tests SIGKILL it).
 */
export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await makeParentsTraversable(dataDir, opts.log);
    // and its binaries: a clone in a private folder (mktemp -d is 0700) hid initdb from the
    // postgres user (EACCES) whenever no earlier server start had opened the folder, as under
    // make citus-test, whose DATABASE_URL keeps the wrapper from starting one (issue 21)
    await makeParentsTraversable(await postgresBinary(), opts.log);
  }
  const port = opts.port ?? (await findFreePort());

  const initialised = await initialiseIfNew(dataDir, asRoot, opts.log);
  const server: ServerConfig = {
    binary: await postgresBinary(),
    dataDir,
    port,
    runAs: asRoot ? await userIds(USER) : undefined,
    log: opts.log,
  };
  let running: ChildProcess | undefined = await startServer(server);
  await createDatabaseIfMissing(port, DATABASE, opts.log).catch(async (err: unknown) => {
    await stopProcess(running!, STOP_SIGNAL, STOP_TIMEOUT_MS);
    throw err;
  });

  return {
    url: connectionUrl(port, DATABASE),
    port,
    dataDir,
    version: (await fs.readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim(),
    initialised,
    async stop() {
      const child = running;
      running = undefined;
      if (child) await stopProcess(child, STOP_SIGNAL, STOP_TIMEOUT_MS);
    },
    async start() {
      running ??= await startServer(server);
    },
  };
}

function connectionUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

interface ServerConfig {
  binary: string;
  dataDir: string;
  port: number;
  runAs: { uid: number; gid: number } | undefined;
  log: (msg: string) => void;
}

async function startServer(config: ServerConfig): Promise<ChildProcess> {
  await clearLeftover(config.dataDir, config.log);
  // TCP only: the default socket directory may not exist or be writable for the postgres user.
  const args = ['-D', config.dataDir, '-p', String(config.port)];
  args.push('-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=');
  // detached: its own process group, so a terminal's Ctrl+C reaches the app but not the
  // database, which we stop only after the app has exited.
  const child = spawn(config.binary, args, {
    ...config.runAs,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const output = captureOutput(child, 'postgres', config.log);
  stopOnExit(child, STOP_SIGNAL);
  watch(child, {
    signal: STOP_SIGNAL,
    timeoutMs: STOP_TIMEOUT_MS,
    guardFile: guardFileOf(config.dataDir),
  });
  try {
    await waitUntilReady(child, config.dataDir);
  } catch (err) {
    if (child.pid !== undefined) await stopProcess(child, STOP_SIGNAL, STOP_TIMEOUT_MS);
    const why = (err as Error).message;
    throw new Error(`PostgreSQL failed to start on port ${config.port}: ${why}\n${output()}`, {
      cause: err,
    });
  }
  return child;
}

/**
 * Like pg_ctl, read readiness from postmaster.pid (line 8 becomes "ready"): it does not depend
 * on the language of the server's log messages.
 */
async function waitUntilReady(child: ChildProcess, dataDir: string): Promise<void> {
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const deadline = Date.now() + START_TIMEOUT_MS;
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (hasExited(child)) throw new Error(`it exited (${exitDescription(child)})`);
      const lines = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').then(
        (text) => text.split('\n'),
        () => [],
      );
      if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') return;
      await sleep(20);
    }
    throw new Error(`not ready within ${START_TIMEOUT_MS / 1000} s`);
  })();
  await Promise.race([ready, spawnError]);
}

/**
 * A killed earlier run leaves postmaster.pid behind, and maybe its server (after a machine crash,
 * or from before the watchdogs). The server is ours when that pid is a postgres serving this very
 * folder: stopped cleanly (or waited for) by stopLeftover. Otherwise the pid was reused by
 * someone else's process, which we never touch; postgres does not clear a file whose pid is
 * alive, so we remove it.
 */
async function clearLeftover(dataDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = await readPid(pidFile);
  if (pid === undefined) return;
  const ours = isAlive(pid) ? await servesDataDir(pid, dataDir) : false;
  if (ours === undefined) {
    throw new Error(
      `PostgreSQL (pid ${pid}) may be running on ${dataDir}, probably left over from an earlier run: stop it with \`kill ${pid}\``,
    );
  }
  if (ours) {
    const server = { name: 'PostgreSQL', pid, where: dataDir, guardFile: guardFileOf(dataDir) };
    await stopLeftover({ ...server, signal: STOP_SIGNAL, timeoutMs: STOP_TIMEOUT_MS }, log);
  }
  await fs.rm(pidFile, { force: true });
}

/** Undefined when we cannot tell (no /proc, as on macOS). */
async function servesDataDir(pid: number, dataDir: string): Promise<boolean | undefined> {
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline !== undefined) return cmdline.split('\0').includes(dataDir);
  // Gone since, or no /proc at all (macOS): only the latter leaves us unable to tell.
  return existsSync('/proc/self') ? false : undefined;
}

/** Beside the cluster's own files: postgres ignores it, and it goes where the data goes. */
function guardFileOf(dataDir: string): string {
  return path.join(dataDir, 'devenv_watchdog.pid');
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
