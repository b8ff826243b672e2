// Loaded by mocha before any test (see .mocharc.json).
import { use } from 'chai';
import chaiAsPromised from 'chai-as-promised';
import { killLeftoverServiceProcesses } from './support/processes';

process.env.LOG_LEVEL ??= 'silent';
// `await expect(promise).to.be.rejectedWith(...)` in every test file.
use(chaiAsPromised);

/**
 * Root hooks. Mocha exits by itself once nothing is left running (no `exit: true`), so a
 * service process that a test forgot to stop would hang the run: it is killed here, and the
 * hook fails so the leak is seen and fixed.
 */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    const leftovers = await killLeftoverServiceProcesses();
    if (leftovers > 0) throw new Error(`${leftovers} service process(es) were left running`);
  },
};
