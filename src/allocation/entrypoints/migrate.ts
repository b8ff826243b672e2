// `make migrate`: brings the schema to the latest migration and exits.
import { createKnex, migrate } from '../adapters/postgres/db';
import { databaseUrl, dbLimits } from '../config';

async function run(): Promise<void> {
  // A migration may rewrite a big table: no statement timeout here (lock waits stay bounded).
  const db = createKnex(databaseUrl(), 1, { ...dbLimits(), statementTimeoutMs: 0 });
  try {
    await migrate(db);
    console.log('database schema is up to date');
  } finally {
    await db.destroy();
  }
}

run().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
