import { expect } from 'chai';
import { eventually } from '../support/eventually';
import { startServiceProcess } from '../support/processes';
import { send } from '../support/requests';

describe('the service process', () => {
  it('starts as make run starts it, is ready, and stops cleanly on SIGTERM', async () => {
    // API_WORKERS empty means its default, as `make run` has it: one API worker per core.
    const service = await startServiceProcess({ API_WORKERS: '' });
    let ready: unknown;
    let exitCode: number | null;
    try {
      ready = await eventually(async () => {
        const outcome = await send({ method: 'GET', url: `${service.url}/readyz` });
        expect(outcome.status).to.equal(200);
        return outcome.body;
      }, 20_000);
    } finally {
      exitCode = await service.stop(); // null if it hung and had to be killed
    }

    expect(ready).to.include({ status: 'ready' });
    expect(exitCode, service.output()).to.equal(0);
  });
});
