// The read routes on a streaming replica (DATABASE_READ_URL), on a real service process: a
// PostgreSQL 15 primary and its replica started for this file (tools/replicated_postgres.ts).
// That reads come from the replica is shown by pausing its replay: a write is then visible on
// the primary and not through the API until replay resumes. Every wait is bounded.
import { expect } from 'chai';
import { Client } from 'pg';
import {
  type ReplicatedPostgresHandle,
  startReplicatedPostgres,
} from '../../tools/replicated_postgres';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { addBatch } from '../support/requests';

async function sql(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** GET with a deadline: a hang fails the request, it does not stall the test. */
async function get(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = Date.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : null,
    ms: Date.now() - started,
  };
}

describe('read routes on a streaming replica', function () {
  let pg: ReplicatedPostgresHandle | undefined;
  let service: ServiceProcess | undefined;
  before(async function () {
    this.timeout(180_000); // a first run may install postgresql-15
    pg = await startReplicatedPostgres({ log: (msg) => console.log(`      ${msg}`) });
    service = await startServiceProcess(
      { DATABASE_URL: pg.primaryUrl, DATABASE_READ_URL: pg.replicaUrl },
      'all',
    );
  });
  after(async function () {
    this.timeout(60_000);
    await service?.kill();
    await pg?.stop();
  });

  it('a read after a write arrives through the replica', async function () {
    this.timeout(40_000);
    const { primaryUrl, replicaUrl } = pg!;
    const url = service!.url;
    const [sku, ref, orderid] = [randomSku('replica'), randomBatchref('replica'), randomOrderid()];
    await addBatch(url, ref, sku, 10);
    // the replica first replays what the primary has (the migrations, the batch): paused
    // earlier, it would not even have the read model's table
    const [{ lsn }] = await sql(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
    await eventually(async () => {
      const [{ replayed }] = await sql(
        replicaUrl,
        `SELECT pg_last_wal_replay_lsn() >= '${String(lsn)}'::pg_lsn AS replayed`,
      );
      expect(replayed).to.equal(true);
    }, 15_000);
    await sql(replicaUrl, 'SELECT pg_wal_replay_pause()');
    try {
      const response = await fetch(`${url}/allocate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderid, sku, qty: 3 }),
      });
      expect(response.status).to.equal(202);
      // On the primary the read model has it; the replica, replay paused, has not.
      await eventually(async () => {
        const rows = await sql(
          primaryUrl,
          `SELECT 1 FROM allocations_view WHERE orderid = '${orderid}'`,
        );
        expect(rows).to.have.length(1);
      }, 15_000);
      const whilePaused = await get(`${url}/allocations/${orderid}`);
      expect(whilePaused.status, JSON.stringify(whilePaused.body)).to.equal(404);
      const historyWhilePaused = await get(`${url}/orders/${orderid}/history`);
      expect(historyWhilePaused.status, JSON.stringify(historyWhilePaused.body)).to.equal(404);
    } finally {
      await sql(replicaUrl, 'SELECT pg_wal_replay_resume()');
    }
    const read = await eventually(async () => {
      const answer = await get(`${url}/allocations/${orderid}`);
      expect(answer.status).to.equal(200);
      return answer;
    }, 15_000);
    expect(read.body).to.deep.equal([{ sku, batchref: ref }]);
    const stock = await get(`${url}/products/${sku}`);
    expect(stock.status).to.equal(200);
    expect(stock.body).to.deep.include({ sku });
    const history = await get(`${url}/orders/${orderid}/history`);
    expect(history.status).to.equal(200);
  });

  it('a read with the replica stopped is a 503 with a message, not a hang; writes go on', async function () {
    this.timeout(60_000);
    const url = service!.url;
    await pg!.stopReplica();

    const answers = [
      await get(`${url}/allocations/${randomOrderid()}`),
      await get(`${url}/products/${randomSku()}`),
      await get(`${url}/orders/${randomOrderid()}/history`),
      await get(`${url}/products/${randomSku()}/history`),
    ];
    console.log(
      `      replica stopped: ${answers.map((a) => `${a.status} in ${a.ms} ms`).join(', ')}`,
    );
    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).to.equal(503);
      expect(answer.body).to.have.property('message').that.is.a('string');
    }
    await addBatch(url, randomBatchref('replica-down'), randomSku('replica-down'), 5);
  });
});
