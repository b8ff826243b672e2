// Tracing across the asynchronous hops (SPEC section 9), through a real service process that
// exports to an OTLP/HTTP receiver in this test, configured only by OTEL_* variables.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import {
  startOtlpReceiver,
  SPAN_KIND,
  type OtlpReceiver,
  type ReceivedSpan,
} from './otlp_receiver';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { listen, redisUrl } from '../support/redis';
import { addBatch } from '../support/requests';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** A caller's trace context: a new trace id and the caller's own span id. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const [traceId, spanId] = [hex(16), hex(8)];
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const isPostgres = (span: ReceivedSpan): boolean =>
  span.attributes['db.system'] === 'postgresql' ||
  span.attributes['db.system.name'] === 'postgresql';

function spanNamed(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.find((span) => span.name === name);
  expect(found, `span "${name}" among ${spans.map((s) => s.name).join(', ')}`).to.not.equal(
    undefined,
  );
  return found as ReceivedSpan;
}

describe('tracing (OpenTelemetry over OTLP/HTTP)', function () {
  this.timeout(60_000);
  let receiver: OtlpReceiver;
  let service: ServiceProcess;

  before(async () => {
    receiver = await startOtlpReceiver();
    service = await startServiceProcess({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'allocation-under-test',
      LOG_LEVEL: 'info',
    });
  });
  after(async () => {
    await service?.stop();
    await receiver?.close();
  });

  const traceOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);

  it('one allocation is one trace, from the caller on to the published line_allocated', async () => {
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    await addBatch(service.url, ref, sku, 10);
    const lineAllocated = await listen('line_allocated');
    const caller = callerContext();
    try {
      const response = await fetch(`${service.url}/allocate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: caller.traceparent },
        body: JSON.stringify({ orderid, sku, qty: 2 }),
      });
      expect(response.status).to.equal(202);

      const spans = await eventually(async () => {
        const trace = traceOf(caller.traceId);
        spanNamed(trace, 'deliver Allocated.line_allocated');
        spanNamed(trace, 'handle Allocated.line_allocated'); // an outbox handler, run by the relay
        expect(trace.filter(isPostgres)).to.not.be.empty;
        return trace;
      }, 20_000);
      const server = spans.find((s) => s.kind === SPAN_KIND.SERVER);
      expect(server?.parentSpanId, 'the server span continues the caller').to.equal(caller.spanId);
      expect(server?.serviceName).to.equal('allocation-under-test');
      const handler = spanNamed(spans, 'handle Allocate');
      expect(handler.attributes['allocation.handler']).to.equal('Allocate');
      expect(spans.filter(isPostgres).some((s) => s.parentSpanId === handler.spanId)).to.equal(
        true,
        'a SQL statement of the handler',
      );
      const delivery = spanNamed(spans, 'deliver Allocated.line_allocated');
      expect(delivery.parentSpanId, 'the delivery continues what wrote the outbox row').to.equal(
        handler.spanId,
      );

      const message = await eventually(async () => {
        const mine = lineAllocated.messages.find((m) => m.orderid === orderid);
        expect(mine).to.not.equal(undefined);
        return mine as Record<string, unknown>;
      });
      expect(message.traceparent).to.equal(`00-${caller.traceId}-${delivery.spanId}-01`);
    } finally {
      lineAllocated.close();
    }
  });

  it('an inbound message with a traceparent is handled in that trace, and logs name it', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await addBatch(service.url, ref, sku, 10);
    const sender = callerContext();
    const publisher = new Redis(redisUrl());
    try {
      await publisher.publish(
        'change_batch_quantity',
        JSON.stringify({ batchref: ref, qty: 7, traceparent: sender.traceparent }),
      );
      const spans = await eventually(async () => {
        const trace = traceOf(sender.traceId);
        spanNamed(trace, 'handle ChangeBatchQuantity');
        return trace;
      }, 20_000);
      const receive = spanNamed(spans, 'receive change_batch_quantity');
      expect(receive.kind).to.equal(SPAN_KIND.CONSUMER);
      expect(receive.parentSpanId).to.equal(sender.spanId);
      expect(spanNamed(spans, 'handle ChangeBatchQuantity').parentSpanId).to.equal(receive.spanId);
      expect(spans.filter(isPostgres)).to.not.be.empty;

      const logged = service
        .output()
        .split('\n')
        .filter((line) => line.includes('batch quantity changed'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const mine = logged.find((line) => line.batchref === ref);
      expect(mine?.trace_id, 'the log line names the trace').to.equal(sender.traceId);
      expect(mine?.correlation_id).to.be.a('string');
    } finally {
      publisher.disconnect();
    }
  });

  it('health probes make no traces', async () => {
    // Requests in order: once the allocation's trace arrived, the probe's would have too.
    const caller = callerContext();
    await fetch(`${service.url}/healthz`, { headers: { traceparent: caller.traceparent } });
    const [sku, ref] = [randomSku(), randomBatchref()];
    const marker = callerContext();
    await fetch(`${service.url}/add_batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: marker.traceparent },
      body: JSON.stringify({ ref, sku, qty: 1, eta: null }),
    });
    await eventually(async () => {
      expect(traceOf(marker.traceId)).to.not.be.empty;
    }, 20_000);
    expect(traceOf(caller.traceId)).to.be.empty;
  });
});

describe('tracing over http/protobuf', function () {
  this.timeout(60_000);

  it('exports protobuf when OTEL_EXPORTER_OTLP_PROTOCOL asks for it', async () => {
    const receiver = await startOtlpReceiver();
    const service = await startServiceProcess({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      await addBatch(service.url, randomBatchref(), randomSku(), 1);
      await eventually(async () => {
        expect(receiver.requests['application/x-protobuf']).to.be.greaterThan(0);
      }, 20_000);
      expect(receiver.requests['application/json']).to.equal(undefined);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});
