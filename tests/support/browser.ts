// A real browser for the console's tests: Debian's chromium (installed with apt-get when missing
// and running as root, as tools/ does for redis-server), driven by playwright-core. Playwright's
// own browser downloads are not reachable from every machine that runs the tests.
import { chromium, type Browser } from 'playwright-core';
import { findOrInstall } from '../../tools/debian_packages';

export async function launchChromium(): Promise<Browser> {
  const executablePath = await findOrInstall('chromium', 'chromium', (msg) =>
    console.log(`[browser] ${msg}`),
  );
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
