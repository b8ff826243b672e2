// A real Prometheus (Debian's) scraping a real service process with the shipped rules: Redis
// stopped makes deliveries stuck and the process not ready, the alerts fire; Redis back, they
// resolve. The same Prometheus then evaluates every expression of the dashboard and the rules.
// The service has a database and a Redis of its own, so nothing another test left behind (an
// old undelivered outbox row) can fire or hold an alert. Every wait has a deadline.
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { createKnex, migrate } from '../../src/allocation/adapters/postgres/db';
import { type LocalRedisHandle, startLocalRedis } from '../../tools/local_redis';
import { eventually } from '../support/eventually';
import {
  PROMETHEUS_DIR,
  REPO_ROOT,
  readPrometheusYaml,
  shippedRules,
  startPrometheus,
  type PrometheusServer,
  type RuleFile,
} from '../support/prometheus';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { addBatch, send } from '../support/requests';
import { startServiceProcess, type ServiceProcess } from '../support/processes';

const DATABASE = `allocation_prometheus_${process.pid}`;
/** How long Prometheus may take to see a change: a scrape every 2 s, evaluations every second. */
const ALERT_DEADLINE_MS = 60_000;

interface ActiveAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

/** The database server of the test run, with DATABASE in place of its database. */
function databaseUrl(database: string): string {
  const url = new URL(process.env.DATABASE_URL ?? '');
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The shipped alerts.yml with only its waits shortened, as a test cannot wait minutes: every
 * `for:` becomes 1s and AllocationDeliveriesStuck's 300 s threshold becomes 2 s. Expressions,
 * labels and annotations are the shipped ones; the recording rules are loaded as shipped.
 */
async function alertsWithShortWaits(dir: string): Promise<string> {
  const rules = await readPrometheusYaml<RuleFile>('alerts.yml');
  for (const rule of rules.groups.flatMap((group) => group.rules)) {
    if (rule.for) rule.for = '1s';
    if (rule.alert === 'AllocationDeliveriesStuck') {
      expect(rule.expr, 'the threshold this test shortens').to.contain('> 300');
      rule.expr = rule.expr.replace('> 300', '> 2');
    }
  }
  const file = path.join(dir, 'alerts_short_waits.yml');
  await fs.writeFile(file, stringify(rules));
  return file;
}

/** Every PromQL expression of the dashboard, Grafana's variables given the test's values. */
async function dashboardExpressions(): Promise<string[]> {
  const file = path.join(REPO_ROOT, 'deploy/grafana/allocation.json');
  const dashboard = JSON.parse(await fs.readFile(file, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
  };
  return dashboard.panels
    .flatMap((panel) => panel.targets ?? [])
    .map((target) =>
      target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'allocation'),
    );
}

/** The allocation_* metric names an expression reads (not recording rules' job:...: names). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/(?<![\w:])allocation_[a-z0-9_]+(?![\w:])/g)].map(([name]) =>
    name.replace(/_(bucket|count|sum)$/, ''),
  );
}

describe('prometheus', () => {
  let redis: LocalRedisHandle | undefined;
  let service: ServiceProcess | undefined;
  let prometheus: PrometheusServer | undefined;
  let rulesDir: string | undefined;

  before(async function () {
    this.timeout(180_000); // the first run may install Debian's prometheus package
    await onServer(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await onServer(`CREATE DATABASE ${DATABASE}`);
    const db = createKnex(databaseUrl(DATABASE), 1);
    await migrate(db).finally(() => db.destroy());
    redis = await startLocalRedis({ log: () => undefined });
    service = await startServiceProcess({
      DATABASE_URL: databaseUrl(DATABASE),
      REDIS_URL: redis.url,
      OUTBOX_RETRY_BASE_MS: '100',
      OUTBOX_RETRY_MAX_MS: '500',
      // a stopped Redis answers at once (connection refused); this bounds a half-open one
      REDIS_COMMAND_TIMEOUT_MS: '500',
    });
    rulesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'allocation-rules-'));
    const dir = rulesDir;
    const alerts = await alertsWithShortWaits(dir);
    const recording = path.join(PROMETHEUS_DIR, 'recording_rules.yml');
    prometheus = await startPrometheus(`127.0.0.1:${service.port}`, [recording, alerts]);
    const { output } = prometheus;
    await eventually(async () => {
      const targets = await prometheus!.api<{ activeTargets: { health: string }[] }>(
        '/api/v1/targets',
      );
      expect(
        targets.activeTargets.map((t) => t.health),
        output(),
      ).to.deep.equal(['up']);
    }, ALERT_DEADLINE_MS);
  });

  after(async function () {
    this.timeout(60_000);
    await prometheus?.stop();
    await service?.stop();
    await redis?.stop();
    await onServer(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    if (rulesDir) await fs.rm(rulesDir, { recursive: true, force: true });
  });

  async function alertStates(): Promise<Record<string, string>> {
    const { alerts } = await prometheus!.api<{ alerts: ActiveAlert[] }>('/api/v1/alerts');
    return Object.fromEntries(alerts.map((a) => [a.labels.alertname, a.state]));
  }

  /** An instant query's values, by the series' dependency label (or its instance). */
  async function instant(query: string): Promise<Record<string, number>> {
    const { result } = await prometheus!.api<{
      result: { metric: Record<string, string>; value: [number, string] }[];
    }>(`/api/v1/query?query=${encodeURIComponent(query)}`);
    return Object.fromEntries(
      result.map(({ metric, value }) => [metric.dependency ?? metric.instance, Number(value[1])]),
    );
  }

  async function allocate(sku: string): Promise<void> {
    const body = { orderid: randomOrderid('prom'), sku, qty: 1 };
    const outcome = await send({ url: `${service!.url}/allocate`, method: 'POST', body });
    expect(outcome.status).to.equal(202);
  }

  it('fires deliveries stuck and not ready while Redis is down, and resolves them after', async function () {
    this.timeout(180_000);
    const sku = randomSku('prom');
    await addBatch(service!.url, randomBatchref('prom'), sku, 100);
    await allocate(sku);
    const loaded = await prometheus!.api<{ groups: { rules: { name: string }[] }[] }>(
      '/api/v1/rules',
    );
    const quietBefore = await alertStates();

    await redis!.stop();
    await allocate(sku); // committed; its line_allocated cannot be published
    const whileDown = await eventually(async () => {
      const states = await alertStates();
      expect(states).to.include({
        AllocationDeliveriesStuck: 'firing',
        AllocationNotReady: 'firing',
      });
      return states;
    }, ALERT_DEADLINE_MS);
    // scraped all along: not ready because the process said so, not because it was unreachable
    const readiness = await instant('allocation_dependency_up');
    const scraped = await instant('up');
    await redis!.start();
    await eventually(async () => {
      const states = await alertStates();
      expect(states).to.not.have.any.keys('AllocationDeliveriesStuck', 'AllocationNotReady');
    }, ALERT_DEADLINE_MS);
    // both allocations' line_allocated delivered, the second once Redis was back
    const delivered = await eventually(async () => {
      const query = 'sum(allocation_publish_delay_seconds_count{handler="line_allocated"})';
      const [count] = Object.values(await instant(query));
      expect(count).to.equal(2);
      return count;
    }, ALERT_DEADLINE_MS);

    const names = loaded.groups.flatMap((group) => group.rules.map((rule) => rule.name));
    expect(names).to.include.members(['AllocationDeliveriesStuck', 'AllocationNotReady']);
    expect(names).to.include('job:allocation_commands_refused:ratio_5m');
    expect(delivered).to.equal(2);
    expect(quietBefore).to.not.have.any.keys('AllocationDeliveriesStuck', 'AllocationNotReady');
    expect(whileDown).to.not.have.any.keys('AllocationAdmissionRefusing');
    expect(readiness).to.deep.equal({ postgres: 1, redis: 0 });
    expect(Object.values(scraped)).to.deep.equal([1]);
  });

  it('evaluates every expression of the dashboard and the rules without error', async function () {
    this.timeout(60_000);
    const expressions = [
      ...(await dashboardExpressions()),
      ...(await shippedRules()).map((rule) => rule.expr),
    ];

    const errors: string[] = [];
    for (const expr of expressions) {
      await prometheus!
        .api(`/api/v1/query?query=${encodeURIComponent(expr)}`)
        .catch((error: Error) => errors.push(error.message));
    }

    expect(expressions.length).to.be.greaterThan(20);
    expect(errors).to.deep.equal([]);
  });

  it('reads only metrics the service exposes, and recorded series that the rules record', async function () {
    this.timeout(60_000);
    const exposition = await (await fetch(`${service!.url}/metrics`)).text();
    const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name));
    const rules = await shippedRules();
    const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    const expressions = [...(await dashboardExpressions()), ...rules.map((rule) => rule.expr)];

    const read = new Set(expressions.flatMap(metricNames));
    const recordedRead = new Set(
      expressions.flatMap((expr) => [...expr.matchAll(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g)]),
    );

    expect(read.size).to.be.greaterThan(10);
    expect([...read].filter((name) => !exposed.has(name))).to.deep.equal([]);
    expect([...recordedRead].map(([name]) => name).filter((n) => !recorded.has(n))).to.deep.equal(
      [],
    );
  });

  it('records real figures from the scraped service', async function () {
    this.timeout(60_000);

    const rate = await eventually(async () => {
      const { result } = await prometheus!.api<{ result: { value: [number, string] }[] }>(
        `/api/v1/query?query=${encodeURIComponent('job:allocation_http_requests:rate5m')}`,
      );
      expect(result).to.have.length(1);
      return Number(result[0].value[1]);
    }, ALERT_DEADLINE_MS);

    expect(rate).to.be.greaterThan(0);
  });
});
