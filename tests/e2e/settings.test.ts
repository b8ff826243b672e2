import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '../../src/allocation/entrypoints/main.js');

/** Starts the service with one setting changed and returns how it stopped (bounded wait). */
function startWith(name: string, value: string) {
  return spawnSync(process.execPath, [MAIN, 'all'], {
    env: { ...process.env, [name]: value, API_PORT: '0', LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('settings', () => {
  for (const name of [
    'OUTBOX_RETENTION',
    'INBOX_RETENTION',
    'DEAD_LETTER_RETENTION',
    'AUDIT_RETENTION',
    'HISTORY_RETENTION',
  ]) {
    it(`an invalid ${name} stops the start with one sentence naming it`, () => {
      const result = startWith(name, 'soon');

      expect(result.status).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.contain(name);
    });
  }

  for (const value of ['soon', '0']) {
    it(`BODY_TIMEOUT_MS=${value} stops the start with one sentence naming it`, () => {
      const result = startWith('BODY_TIMEOUT_MS', value);

      expect(result.status).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.contain('BODY_TIMEOUT_MS');
    });
  }

  it('an invalid OUTBOX_MAX_ATTEMPTS stops the start with one sentence naming it', () => {
    const result = startWith('OUTBOX_MAX_ATTEMPTS', 'many');

    expect(result.status).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.contain('OUTBOX_MAX_ATTEMPTS');
  });

  for (const value of ['fast', '0']) {
    it(`EMAIL_MAX_PER_SECOND=${value} stops the start with one sentence naming it`, () => {
      const result = startWith('EMAIL_MAX_PER_SECOND', value);

      expect(result.status).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.contain('EMAIL_MAX_PER_SECOND');
    });
  }

  for (const value of ['soon', '0']) {
    it(`OUTBOX_PROBE_MS=${value} stops the start with one sentence naming it`, () => {
      const result = startWith('OUTBOX_PROBE_MS', value);

      expect(result.status).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.contain('OUTBOX_PROBE_MS');
    });
  }
});
