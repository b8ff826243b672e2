import { spawn } from 'node:child_process';
import os from 'node:os';
import { ensureServices, type Services } from './services';

const USAGE = `usage: node dist/tools/with_services.js <command> [args...]

Runs <command> with DATABASE_URL and REDIS_URL set, starting embedded PostgreSQL and a local
redis-server for those not already set, and stops them when the command exits.
DEVENV_PROFILE=test (or bench) keeps separate data folders; DEVENV_DATA_DIR moves them all
(default .data); DEVENV_VERBOSE=1 shows the servers' own logs. Each server has a watchdog that
stops it within seconds if this process dies, however it dies.`;

// SIGHUP too: closing the terminal must not kill us before we stop the (detached) servers.
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

function log(msg: string): void {
  process.stderr.write(`[devenv] ${msg}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const signals = new SignalRelay();
  let services: Services;
  try {
    services = await ensureServices(log);
  } catch (err) {
    log((err as Error).message);
    return 1;
  }
  // A signal during start-up means the user gave up: do not start the command at all.
  const exitCode = signals.received
    ? signalExitCode(signals.received)
    : await runCommand(command, args, { ...process.env, ...services.env }, signals);
  await stopServices(services);
  signals.dispose();
  // After a hang-up, dying of SIGHUP is the honest status, and exiting normally would abort:
  // Node asserts when it cannot restore the settings of a terminal that has gone away.
  if (signals.received === 'SIGHUP') process.kill(process.pid, 'SIGHUP');
  return exitCode;
}

/**
 * Catches the signals from the start, so an interrupted start-up still stops the servers, and
 * passes them on to the command once it runs. A terminal's Ctrl+C also reaches the command
 * directly (same process group), so it may see SIGINT twice, as under npm run or cross-env.
 */
class SignalRelay {
  received: ForwardedSignal | undefined;
  private target: ((signal: ForwardedSignal) => void) | undefined;
  private readonly handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      this.received ??= signal;
      this.target?.(signal);
    };
    process.on(signal, handler);
    return { signal, handler };
  });

  forwardTo(target: (signal: ForwardedSignal) => void): void {
    this.target = target;
  }

  dispose(): void {
    for (const { signal, handler } of this.handlers) process.removeListener(signal, handler);
  }
}

function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signals: SignalRelay,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', shell: false, env });
    signals.forwardTo((signal) => child.kill(signal));
    child.once('error', (err: NodeJS.ErrnoException) => {
      // The shell's conventions: 127 for a command not found, 126 for one it cannot run.
      log(`could not run ${command}: ${err.message}`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? signalExitCode(signal ?? 'SIGTERM'));
    });
  });
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}

async function stopServices(services: Services): Promise<void> {
  if (services.started.length === 0) return;
  try {
    await services.stop();
    // Quiet by default: a test runner's closing summary must stay the last line CI reads.
    if (process.env.DEVENV_VERBOSE) log(`stopped ${services.started.join(' and ')}`);
  } catch (err) {
    log(`could not stop ${services.started.join(' and ')}: ${(err as Error).message}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
