// Programs the project needs from Debian (redis-server, chromium): found on the PATH, or, when
// running as root on Debian (CI, a fresh machine), installed with apt-get first.
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';

/** The program's path; installs `debianPackage` when it is missing and we may. */
export async function findOrInstall(
  command: string,
  debianPackage: string,
  log: (msg: string) => void,
  otherwise = '',
): Promise<string> {
  const notFound = `${command} not found: install it (e.g. apt-get install ${debianPackage})${otherwise}`;
  const found = await findOnPath(command);
  if (found) return found;
  if (!(await canInstall())) throw new Error(notFound);
  log(`${command} not found: installing Debian package ${debianPackage} with apt-get`);
  await aptInstall(debianPackage, log);
  const installed = await findOnPath(command);
  if (!installed) throw new Error(notFound);
  return installed;
}

/** True when running as root where apt-get exists: missing packages can be installed. */
export async function canInstall(): Promise<boolean> {
  return process.getuid?.() === 0 && (await findOnPath('apt-get')) !== undefined;
}

/** Installs a Debian package with apt-get (as root). */
export async function aptInstall(debianPackage: string, log: (msg: string) => void): Promise<void> {
  const startedAt = Date.now();
  // Another apt-get (a parallel job, unattended upgrades) may hold the lock for a while.
  const wait = ['-o', 'DPkg::Lock::Timeout=300'];
  await run('apt-get', [...wait, 'update']);
  await run('apt-get', [...wait, 'install', '-y', '--no-install-recommends', debianPackage]);
  log(`installed ${debianPackage} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}

async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    const executable = await fs.access(candidate, fsConstants.X_OK).then(
      () => true,
      () => false,
    );
    if (executable) return candidate;
  }
  return undefined;
}

/** Runs a command quietly; its output is only worth showing when it fails. */
export function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      reject(new Error(`\`${command} ${args.join(' ')}\` failed (exit ${code}):\n${output}`));
    });
  });
}
