// The development environment after a hard stop (issue 14): the servers the wrapper starts never
// outlive it for long, a leftover from a run that died is cleared at the next start, and a server
// that is not ours is left alone. Real processes, started the way `make run` starts them, on a
// data root of their own (DEVENV_DATA_DIR) so they never meet the test run's own servers. Every
// wait is bounded; assertions are on which processes exist, never on how fast they went.
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs, mkdtempSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../tools/embedded_postgres';
import { findFreePort, hasExited, isAlive, readPid } from '../../tools/server_process';
import { eventually } from '../support/eventually';

const WITH_SERVICES = path.resolve(__dirname, '../../tools/with_services.js');
const MAIN = path.resolve(__dirname, '../../src/allocation/entrypoints/main.js');
// First start runs initdb: generous on a noisy 2-core machine, but a hang still fails.
const START_TIMEOUT_MS = 120_000;
// "Within seconds" once the wrapper is gone; the bound only stops a hung test.
const GONE_TIMEOUT_MS = 30_000;

interface Wrapper {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Wrappers not yet exited: a failed test must not leave its servers behind. */
const running = new Set<ChildProcess>();

/** `with_services <command>` as `make run` runs it, in a process group of its own. */
function startWrapper(dataRoot: string, command: string[], env: NodeJS.ProcessEnv = {}): Wrapper {
  const inherited = { ...process.env };
  // The test run's own servers, and its profile, are not for this wrapper.
  delete inherited.DATABASE_URL;
  delete inherited.REDIS_URL;
  delete inherited.DEVENV_PROFILE;
  const child = spawn(process.execPath, [WITH_SERVICES, ...command], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, DEVENV_DATA_DIR: dataRoot, LOG_LEVEL: 'warn', API_WORKERS: '1', ...env },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, output: () => output };
}

async function startService(dataRoot: string): Promise<Wrapper & { url: string }> {
  const port = await findFreePort();
  const wrapper = startWrapper(dataRoot, [process.execPath, MAIN, 'all'], {
    API_PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (hasExited(wrapper.child)) throw new Error(`exited early:\n${wrapper.output()}`);
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    if (response.status !== 200) throw new Error(`readyz ${response.status}`);
  }, START_TIMEOUT_MS);
  return { ...wrapper, url };
}

/** What `kill -9 -<pgid>` does to a terminal's job: everything in the group dies at once. */
async function killGroup(wrapper: Wrapper): Promise<void> {
  process.kill(-wrapper.child.pid!, 'SIGKILL');
  await wrapper.exited;
}

async function stopGroup(wrapper: Wrapper): Promise<number | null> {
  process.kill(-wrapper.child.pid!, 'SIGTERM');
  return wrapper.exited;
}

/** The servers (and their watchdogs) a wrapper started on `dataRoot`, from their pid files. */
async function serverPids(
  dataRoot: string,
): Promise<{ postgres: number; redis: number; watchdogs: number[] }> {
  const postgres = await readPid(path.join(dataRoot, 'postgres', 'postmaster.pid'));
  const redis = await readPid(path.join(dataRoot, 'redis', 'redis.pid'));
  const watchdogs = await Promise.all(
    ['postgres', 'redis'].map((server) =>
      readPid(path.join(dataRoot, server, 'devenv_watchdog.pid')),
    ),
  );
  if (![postgres, redis, ...watchdogs].every((pid) => pid && isAlive(pid))) {
    throw new Error(`servers not all up: ${JSON.stringify({ postgres, redis, watchdogs })}`);
  }
  return { postgres: postgres!, redis: redis!, watchdogs: watchdogs as number[] };
}

/** Every process whose working folder is under `dataRoot`: servers and all their children. */
async function processesUnder(dataRoot: string): Promise<number[]> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const cwds = await Promise.all(
    pids.map((pid) => fs.readlink(`/proc/${pid}/cwd`).catch(() => '')),
  );
  return pids.filter((_, i) => cwds[i].startsWith(dataRoot + path.sep));
}

async function expectAllGone(dataRoot: string, pids: number[]): Promise<void> {
  await eventually(async () => {
    const alive = pids.filter(isAlive);
    const under = await processesUnder(dataRoot);
    if (alive.length > 0 || under.length > 0) {
      throw new Error(`still running: ${JSON.stringify({ alive, under })}`);
    }
  }, GONE_TIMEOUT_MS);
}

describe('the development environment after a hard stop', function () {
  this.timeout(4 * START_TIMEOUT_MS);
  let scratch: string;
  let dataRoot: string;

  before(() => {
    scratch = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'devenv-hard-stop-')));
    dataRoot = path.join(scratch, 'data');
  });

  afterEach(() => {
    // The watchdogs then stop whatever those wrappers started.
    for (const child of running) process.kill(-child.pid!, 'SIGKILL');
  });

  after(async () => {
    // Only after a failure is anything left here; its data is deleted next anyway.
    for (const pid of await processesUnder(scratch)) process.kill(pid, 'SIGKILL');
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('stops PostgreSQL and Redis when the wrapper is SIGKILLed, and starts again', async () => {
    const first = await startService(dataRoot);
    const { postgres, redis, watchdogs } = await serverPids(dataRoot);
    expect(await processesUnder(dataRoot)).to.include.members([postgres, redis]);

    await killGroup(first);
    await expectAllGone(dataRoot, [postgres, redis, ...watchdogs]);

    const second = await startService(dataRoot);
    const restarted = await serverPids(dataRoot);
    expect(await stopGroup(second)).to.equal(0);
    await expectAllGone(dataRoot, [restarted.postgres, restarted.redis, ...restarted.watchdogs]);
  });

  it('clears a PostgreSQL and a Redis left over on its data folder before starting', async () => {
    // A run that dies with no watchdog to clean up (a machine crash, a run from before them).
    const crashed = startWrapper(dataRoot, [process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    const leftover = await eventually(() => serverPids(dataRoot), START_TIMEOUT_MS);
    for (const watchdog of leftover.watchdogs) process.kill(watchdog, 'SIGKILL');
    await killGroup(crashed);
    expect(isAlive(leftover.postgres), 'the leftover PostgreSQL').to.be.true;
    expect(isAlive(leftover.redis), 'the leftover Redis').to.be.true;

    const next = await startService(dataRoot);
    expect(next.output()).to.contain(`stopping PostgreSQL (pid ${leftover.postgres})`);
    expect(next.output()).to.contain(`stopping redis-server (pid ${leftover.redis})`);
    expect(isAlive(leftover.postgres)).to.be.false;
    expect(isAlive(leftover.redis)).to.be.false;
    expect(await stopGroup(next)).to.equal(0);
    await expectAllGone(dataRoot, []);
  });

  it('leaves alone a PostgreSQL it did not start, on a folder that is not its own', async () => {
    let foreign: EmbeddedPostgresHandle | undefined;
    try {
      foreign = await startEmbeddedPostgres({
        dataDir: path.join(scratch, 'not-the-project', 'postgres'),
        log: () => undefined,
      });
      const foreignPid = await readPid(path.join(foreign.dataDir, 'postmaster.pid'));
      // Worst case for a clean-up: our postmaster.pid names that server's pid (pid reuse).
      await fs.writeFile(path.join(dataRoot, 'postgres', 'postmaster.pid'), `${foreignPid}\n`);

      const run = startWrapper(dataRoot, [process.execPath, '-e', '']);
      expect(await run.exited, run.output()).to.equal(0);
      const crashed = startWrapper(dataRoot, [
        process.execPath,
        '-e',
        'setInterval(() => {}, 1000)',
      ]);
      const started = await eventually(() => serverPids(dataRoot), START_TIMEOUT_MS);
      await killGroup(crashed);
      await expectAllGone(dataRoot, [started.postgres, started.redis, ...started.watchdogs]);

      expect(isAlive(foreignPid!), 'the foreign PostgreSQL').to.be.true;
      const client = new Client({ connectionString: foreign.url });
      await client.connect();
      try {
        expect((await client.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
      } finally {
        await client.end();
      }
    } finally {
      await foreign?.stop();
    }
  });
});
