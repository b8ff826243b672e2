// The shipped alert and recording rules (deploy/prometheus/) checked and unit-tested by Debian's
// promtool, and held to what an operator needs: a summary and a runbook section for each alert,
// and for each a case that fires it and one that does not.
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, promtool, readPrometheusYaml, shippedRules } from '../support/prometheus';

interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}

/** GitHub's anchor for a Markdown heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replaceAll(' ', '-');
}

describe('prometheus rules', () => {
  it('pass promtool check rules', async function () {
    this.timeout(120_000); // the first run may install Debian's prometheus package

    const { code, output } = await promtool([
      'check',
      'rules',
      'recording_rules.yml',
      'alerts.yml',
    ]);

    expect(code, output).to.equal(0);
  });

  it('pass their promtool unit tests (deploy/prometheus/tests)', async function () {
    this.timeout(120_000);

    const { code, output } = await promtool(['test', 'rules', 'tests/alerts_test.yml']);

    expect(code, output).to.equal(0);
    expect(output).to.contain('SUCCESS');
  });

  it('each alert has a case that fires it and one that does not', async () => {
    const { tests } = await readPrometheusYaml<{ tests: { alert_rule_test?: AlertTest[] }[] }>(
      'tests/alerts_test.yml',
    );
    const cases = tests.flatMap((test) => test.alert_rule_test ?? []);

    for (const { alert } of await shippedRules(['alerts.yml'])) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} fires`,
      ).to.equal(true);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} quiet`,
      ).to.equal(true);
    }
  });

  it('each alert has a summary and a runbook that is a section of README.md', async () => {
    const readme = await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const anchors = new Set(
      [...readme.matchAll(/^#+ (.+)$/gm)].map(([, heading]) => `README.md#${anchorOf(heading)}`),
    );

    const alerts = await shippedRules(['alerts.yml']);

    expect(alerts.length).to.be.greaterThan(5);
    for (const { alert, annotations } of alerts) {
      expect(annotations?.summary, `${alert} summary`).to.be.a('string').and.not.equal('');
      expect(anchors, `${alert} runbook ${annotations?.runbook}`).to.include(annotations?.runbook);
    }
  });
});
