// Debian's Prometheus for the tests (installed with apt-get when missing and running as root, as
// tools/ does for redis-server): promtool for the rules, and a real server scraping a service
// process. Every wait here has a deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { findOrInstall } from '../../tools/debian_packages';
import { findFreePort, hasExited, stopProcess } from '../../tools/server_process';
import { eventually } from './eventually';

// From dist/tests/support back to the repository.
export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const PROMETHEUS_DIR = path.join(REPO_ROOT, 'deploy/prometheus');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  annotations?: Record<string, string>;
}
export type RuleFile = { groups: { name: string; rules: Rule[] }[] };

/** A YAML file of deploy/prometheus, parsed. */
export async function readPrometheusYaml<T>(file: string): Promise<T> {
  return parse(await fs.readFile(path.join(PROMETHEUS_DIR, file), 'utf8')) as T;
}

/** The rules of the shipped rule files (both, unless one is named). */
export async function shippedRules(files = ['recording_rules.yml', 'alerts.yml']): Promise<Rule[]> {
  const parsed = await Promise.all(files.map((file) => readPrometheusYaml<RuleFile>(file)));
  return parsed.flatMap((file) => file.groups.flatMap((group) => group.rules));
}

const log = (msg: string) => console.log(`[prometheus] ${msg}`);

/** Runs promtool with `args` (in `cwd`); its exit code and output, whatever the code. */
export async function promtool(
  args: string[],
  cwd = PROMETHEUS_DIR,
): Promise<{ code: number | null; output: string }> {
  const binary = await findOrInstall('promtool', 'prometheus', log);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface PrometheusServer {
  url: string;
  dir: string;
  output: () => string;
  /** GET an API path; the `data` of a successful answer, else throws with Prometheus' error. */
  api<T>(pathAndQuery: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` on a free port with a data folder of its own, scraping `target` as job
 * "allocation" every 2 s and evaluating `ruleFiles` every second; resolves once it is ready.
 */
export async function startPrometheus(
  target: string,
  ruleFiles: string[],
): Promise<PrometheusServer> {
  const binary = await findOrInstall('prometheus', 'prometheus', log);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'allocation-prometheus-'));
  const port = await findFreePort();
  const config = {
    // a scrape may wait up to REDIS_COMMAND_TIMEOUT_MS for a Redis that is down: time for it
    global: { scrape_interval: '2s', evaluation_interval: '1s', scrape_timeout: '1900ms' },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: 'allocation', static_configs: [{ targets: [target] }] }],
  };
  // JSON is YAML: no YAML writer needed for a config this plain.
  await fs.writeFile(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const server: PrometheusServer = {
    url,
    dir,
    output: () => output,
    async api<T>(pathAndQuery: string): Promise<T> {
      const response = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${body.error}`);
      return body.data;
    },
    async stop() {
      if (!hasExited(child)) await stopProcess(child, 'SIGTERM', 10_000);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  await eventually(async () => {
    if (hasExited(child)) throw new Error(`prometheus exited:\n${output}`);
    const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
    if (response.status !== 200) throw new Error(`prometheus not ready: ${response.status}`);
  }, 30_000).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  return server;
}
