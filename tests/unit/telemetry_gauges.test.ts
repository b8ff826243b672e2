import { expect } from 'chai';
import { PrometheusMetrics } from '../../src/allocation/adapters/prometheus/metrics';
import { lastGood } from '../../src/allocation/adapters/prometheus/telemetry_gauges';

const noBacklog = async () => Promise.resolve({ count: 0, oldestAgeSeconds: 0 });

describe('telemetry gauges', () => {
  it('shows a circuit open, then closed, by handler', async () => {
    const metrics = new PrometheusMetrics(noBacklog);

    metrics.circuitOpen('line_allocated', true);
    metrics.circuitOpen('email', true);
    metrics.circuitOpen('email', false);

    const text = await metrics.registry.metrics();
    expect(text).to.contain('allocation_outbox_circuit_open{handler="line_allocated"} 1');
    expect(text).to.contain('allocation_outbox_circuit_open{handler="email"} 0');
  });

  it('counts publish delays into buckets by handler', async () => {
    const metrics = new PrometheusMetrics(noBacklog);

    metrics.publishDelay('email', 0.2);
    metrics.publishDelay('email', 45);

    const text = await metrics.registry.metrics();
    expect(text).to.contain('allocation_publish_delay_seconds_bucket{le="0.25",handler="email"} 1');
    expect(text).to.contain('allocation_publish_delay_seconds_bucket{le="60",handler="email"} 2');
    expect(text).to.contain('allocation_publish_delay_seconds_count{handler="email"} 2');
  });

  it('shows readiness as 1 or 0 per dependency, and the inbound lag', async () => {
    const metrics = new PrometheusMetrics(noBacklog);

    metrics.watchReadiness(async () =>
      Promise.resolve({ postgres: undefined, redis: 'unreachable' }),
    );
    metrics.watchInboundLag(async () => Promise.resolve(12.5));

    const text = await metrics.registry.metrics();
    expect(text).to.contain('allocation_dependency_up{dependency="postgres"} 1');
    expect(text).to.contain('allocation_dependency_up{dependency="redis"} 0');
    expect(text).to.contain('allocation_inbound_lag_seconds 12.5');
  });

  it('keeps the last good value when the source fails or does not answer in time', async () => {
    const answers: (() => Promise<number>)[] = [
      () => Promise.resolve(3),
      () => Promise.reject(new Error('database down')),
      () => new Promise<number>(() => undefined), // never answers
      () => Promise.resolve(7),
    ];
    const read = lastGood(() => answers.shift()!(), 0, 20);

    const values = [await read(), await read(), await read(), await read()];

    expect(values).to.deep.equal([3, 3, 3, 7]); // the hung read does not hold the next one up
  });
});
