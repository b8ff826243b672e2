import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { eventually } from '../eventually';

const MAIN = path.resolve(__dirname, '../../src/allocation/entrypoints/main.js');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('the service process', () => {
  it('starts as make run starts it, is ready, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'all'], {
      env: { ...process.env, API_PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = exitOf(child);
    try {
      const ready = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(response.status).to.equal(200);
        return (await response.json()) as { status: string };
      }, 20_000);
      expect(ready.status).to.equal('ready');
    } finally {
      child.kill('SIGTERM');
    }

    expect(await exited).to.equal(0);
  });
});
