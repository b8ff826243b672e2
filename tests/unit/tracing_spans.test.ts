// The service layer's spans (service_layer/tracing.ts) with no SDK registered, and with one: the
// SDK (in memory here) must see the spans and the trace context that the no-SDK path skips.
import { expect } from 'chai';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import {
  continuingTrace,
  currentTraceparent,
  inDeliverySpan,
  inSpan,
} from '../../src/allocation/service_layer/tracing';

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const message = (id: string, traceparent: string | null) => ({ id, traceparent });

describe('service-layer spans', () => {
  it('with no SDK, run what they wrap, carry no context and pass errors through', async () => {
    expect(await inSpan('work', {}, async () => 42)).to.equal(42);
    expect(continuingTrace(CALLER, () => currentTraceparent())).to.equal(undefined);
    const delivered = await inDeliverySpan('Allocated.x', [message('1', CALLER)], async () =>
      currentTraceparent(),
    );
    expect(delivered).to.equal(undefined);
    const failing = inSpan('work', {}, () => Promise.reject(new Error('boom')));
    await expect(failing).to.be.rejectedWith('boom');
  });

  describe('with an SDK registered', () => {
    const exporter = new tracing.InMemorySpanExporter();
    let sdk: NodeSDK;
    before(() => {
      sdk = new NodeSDK({
        spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
        instrumentations: [],
        resourceDetectors: [], // none with async attributes, so each span is exported as it ends
      });
      sdk.start();
    });
    after(async () => {
      await sdk.shutdown();
      [trace, context, propagation].forEach((api) => api.disable());
    });

    it('make spans that continue the trace a message names', async () => {
      const inside = await inDeliverySpan(
        'Allocated.x',
        [message('1', CALLER), message('2', null)],
        () => inSpan('handle x', {}, async () => currentTraceparent()),
      );
      const [handle, deliver] = exporter.getFinishedSpans();
      expect(deliver.name).to.equal('deliver Allocated.x');
      expect(handle.name).to.equal('handle x');
      expect(deliver.spanContext().traceId).to.equal(CALLER.split('-')[1]);
      expect(handle.parentSpanContext?.spanId).to.equal(deliver.spanContext().spanId);
      expect(inside).to.match(new RegExp(`^00-${CALLER.split('-')[1]}-[0-9a-f]{16}-01$`));
    });

    it('mark a span failed when what it wraps throws', async () => {
      exporter.reset();
      await expect(inSpan('work', {}, () => Promise.reject(new Error('boom')))).to.be.rejected;
      expect(exporter.getFinishedSpans()[0].status.message).to.equal('boom');
    });
  });
});
