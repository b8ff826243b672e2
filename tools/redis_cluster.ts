// A Redis Cluster of three masters on this machine, for tests: redis-server's own cluster mode
// (Redis 7), each node started like the local Redis (installed with apt-get when missing), then
// joined by `redis-cli --cluster create`. Nothing is persisted; stop() removes its files.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findOrInstall, run } from './debian_packages';
import { type LocalRedisHandle, startLocalRedis } from './local_redis';
import { sleep } from './server_process';

const MASTERS = 3;
const FORM_TIMEOUT_MS = 20_000;

export interface RedisClusterHandle {
  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  stop(): Promise<void>;
}

export async function startRedisCluster(opts: {
  log: (msg: string) => void;
}): Promise<RedisClusterHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'redis-cluster-'));
  const started: LocalRedisHandle[] = [];
  const stop = async () => {
    await Promise.all(started.map((node) => node.stop()));
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < MASTERS; i++) {
      // Each node keeps its cluster state in a file of its own (one dir per node).
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
      started.push(await startLocalRedis({ log: opts.log, dir: path.join(dir, String(i)), args }));
    }
    const nodes = started.map((node) => `127.0.0.1:${node.port}`);
    const cli = await findOrInstall('redis-cli', 'redis-tools', opts.log);
    await run(cli, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntilFormed(
      cli,
      started.map((node) => node.port),
    );
    return { nodes: nodes.join(','), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every node must see all slots covered before clients can be pointed at the cluster. */
async function waitUntilFormed(cli: string, ports: number[]): Promise<void> {
  const deadline = Date.now() + FORM_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(ports.map((port) => clusterState(cli, port)));
    if (states.every((state) => state === 'ok')) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster not formed: ${states.join(', ')}`);
    await sleep(100);
  }
}

function clusterState(cli: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    execFile(cli, ['-p', String(port), 'cluster', 'info'], (error, stdout) => {
      resolve(error ? 'unreachable' : (/cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown'));
    });
  });
}
