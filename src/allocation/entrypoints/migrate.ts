// `make migrate`: brings the schema to the latest migration and exits.
import { createKnex, migrate } from '../adapters/db';
import { databaseUrl } from '../config';

async function run(): Promise<void> {
  const db = createKnex(databaseUrl(), 1);
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
