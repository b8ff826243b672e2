// A PostgreSQL primary and a streaming replica of it on this machine, for tests of the read
// routes on a replica. Both run Debian's PostgreSQL 15 binaries (`pg_basebackup` needs a primary
// of its own major version; the embedded PostgreSQL is 17), installed with apt-get when missing
// (as root; the package's own default cluster is stopped: it is not ours). Trust authentication
// on 127.0.0.1 only; stop() removes the data.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { aptInstall, canInstall, run } from './debian_packages';
import {
  captureOutput,
  findFreePort,
  hasExited,
  sleep,
  stopOnExit,
  stopProcess,
} from './server_process';

const BIN = '/usr/lib/postgresql/15/bin';
const DATABASE = 'allocation';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** Postgres's "fast" shutdown: roll back open transactions, checkpoint, exit. */
const STOP_SIGNAL = 'SIGINT';

export interface ReplicatedPostgresHandle {
  primaryUrl: string;
  replicaUrl: string;
  /** Stops the replica only (the primary keeps serving). */
  stopReplica(): Promise<void>;
  stop(): Promise<void>;
}

type RunAs = { uid: number; gid: number } | undefined;

export async function startReplicatedPostgres(opts: {
  log: (msg: string) => void;
}): Promise<ReplicatedPostgresHandle> {
  await ensurePostgres15(opts.log);
  const runAs = process.getuid?.() === 0 ? await userIds('postgres') : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pg-replica-'));
  if (runAs) await fs.chown(dir, runAs.uid, runAs.gid);
  const servers: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((server) => stopProcess(server, STOP_SIGNAL, STOP_TIMEOUT_MS)));
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const [primaryPort, replicaPort] = [await findFreePort(), await findFreePort()];
    const primaryDir = path.join(dir, 'primary');
    await as(runAs, `${BIN}/initdb`, [
      ...['-D', primaryDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8'],
      '--no-sync', // test data: not worth waiting for the disk
    ]);
    servers.push(await startServer(primaryDir, primaryPort, dir, runAs, opts.log));
    await query(primaryPort, 'postgres', `CREATE DATABASE ${DATABASE}`);
    // A copy of the primary that follows it (-R writes the standby settings into the copy).
    const replicaDir = path.join(dir, 'replica');
    await as(runAs, `${BIN}/pg_basebackup`, [
      ...['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R'],
      // at once, not after a spread checkpoint (minutes); and no waiting for the disk
      ...['--checkpoint=fast', '--no-sync'],
    ]);
    const replica = await startServer(replicaDir, replicaPort, dir, runAs, opts.log);
    servers.push(replica);
    return {
      primaryUrl: url(primaryPort),
      replicaUrl: url(replicaPort),
      stopReplica: () => stopProcess(replica, STOP_SIGNAL, STOP_TIMEOUT_MS),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function url(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/${DATABASE}`;
}

async function ensurePostgres15(log: (msg: string) => void): Promise<void> {
  const present = async () =>
    fs.access(`${BIN}/pg_basebackup`).then(
      () => true,
      () => false,
    );
  if (await present()) return;
  if (!(await canInstall())) {
    throw new Error(`${BIN}/pg_basebackup not found: install it (apt-get install postgresql-15)`);
  }
  log('PostgreSQL 15 not found: installing Debian package postgresql-15 with apt-get');
  await aptInstall('postgresql-15', log);
  // The package starts a default cluster on 5432: stop it, it is not ours.
  await run('pg_ctlcluster', ['15', 'main', 'stop']).catch(() => undefined);
}

/** A server of its own, detached, as the other local servers (server_process.ts). */
async function startServer(
  dataDir: string,
  port: number,
  socketDir: string,
  runAs: RunAs,
  log: (msg: string) => void,
): Promise<ChildProcess> {
  const args = ['-D', dataDir, '-p', String(port), '-k', socketDir];
  args.push('-c', 'listen_addresses=127.0.0.1');
  const child = spawn(`${BIN}/postgres`, args, {
    ...runAs,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const output = captureOutput(child, `postgres:${port}`, log);
  stopOnExit(child, STOP_SIGNAL);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // A standby answers queries once it is consistent: that is the readiness that matters here.
  while (
    !(await query(port, 'postgres', 'SELECT 1').then(
      () => true,
      () => false,
    ))
  ) {
    if (hasExited(child) || Date.now() > deadline) {
      if (!hasExited(child)) await stopProcess(child, STOP_SIGNAL, STOP_TIMEOUT_MS);
      throw new Error(`PostgreSQL 15 did not start on port ${port}:\n${output()}`);
    }
    await sleep(100);
  }
  return child;
}

async function query(port: number, database: string, sql: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function as(runAs: RunAs, command: string, args: string[]): Promise<void> {
  const env = { ...process.env, LC_MESSAGES: 'C' };
  await promisify(execFile)(command, args, { ...runAs, cwd: os.tmpdir(), env });
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const id = promisify(execFile);
  const [uid, gid] = await Promise.all([id('id', ['-u', user]), id('id', ['-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
