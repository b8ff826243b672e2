// The Redis setups that the Redis e2e tests run on: the test run's one Redis, then a Redis
// Cluster of three masters started for them (tools/redis_cluster.ts). The service and the test's
// own clients find the cluster the way production does, through REDIS_CLUSTER_NODES (set
// while the cluster's suites run, and inherited by the service processes they start).
import { type RedisClusterHandle, startRedisCluster } from '../../tools/redis_cluster';

interface RedisSetup {
  name: string;
  use(): Promise<void>;
}

let cluster: Promise<RedisClusterHandle> | undefined;

const SETUPS: RedisSetup[] = [
  { name: 'one Redis', use: async () => undefined },
  {
    name: 'Redis Cluster',
    use: async () => {
      cluster ??= startRedisCluster({ log: (msg) => console.log(`      ${msg}`) });
      process.env.REDIS_CLUSTER_NODES = (await cluster).nodes;
    },
  },
];

/** Defines `suite` once per Redis setup; the cluster is started once, on first use. */
export function describeOnEachRedis(title: string, suite: () => void): void {
  for (const setup of SETUPS) {
    describe(`${title} (${setup.name})`, function () {
      before(async function () {
        this.timeout(60_000); // a first run may install redis-server
        await setup.use();
      });
      suite();
      after(() => {
        delete process.env.REDIS_CLUSTER_NODES;
      });
    });
  }
}

after(async () => {
  if (cluster) await (await cluster).stop();
});
