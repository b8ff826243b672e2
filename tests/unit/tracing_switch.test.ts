import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { tracingRequested } from '../../src/allocation/adapters/opentelemetry/tracing_sdk';

const TRACING = path.resolve(
  __dirname,
  '../../src/allocation/adapters/opentelemetry/tracing_sdk.js',
);

/** Which OpenTelemetry SDK modules a fresh process has loaded after loading tracing.js. */
function sdkModulesLoaded(env: Record<string, string>): number {
  const script = `require(${JSON.stringify(TRACING)});
    const loaded = Object.keys(require.cache).filter((m) => m.includes('@opentelemetry/sdk-'));
    process.stdout.write(String(loaded.length));
    process.exit(0);`;
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_')),
  );
  const run = spawnSync(process.execPath, ['-e', script], {
    env: { ...clean, ...env },
    encoding: 'utf8',
  });
  expect(run.status, run.stderr).to.equal(0);
  return Number(run.stdout);
}

describe('tracing switch (standard OTEL_* variables)', () => {
  it('is off unless an OTLP endpoint or a traces exporter is named', () => {
    expect(tracingRequested({})).to.equal(false);
    expect(
      tracingRequested({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    ).to.equal(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).to.equal(
      true,
    );
    expect(
      tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }),
    ).to.equal(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).to.equal(true);
    expect(
      tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'h' }),
    ).to.equal(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).to.equal(
      false,
    );
  });

  it('loads no SDK when off, and the SDK when on', () => {
    expect(sdkModulesLoaded({})).to.equal(0);
    expect(
      sdkModulesLoaded({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      }),
    ).to.be.greaterThan(0);
  });
});
