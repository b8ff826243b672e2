import type { Knex } from 'knex';

// A new batch claims its ref in batch_refs one row at a time, and a ref already taken raises
// the same error on every engine: SQLSTATE 23505 naming `batch_refs_pkey`, which the unit of
// work turns into a 409 (DuplicateBatch).
//
// Why: the fourth form of apply_product_changes (20261127235000) wrote all new refs with one
// INSERT ... SELECT from the changes' JSON. Citus runs that statement by pulling the rows to
// the coordinator and COPYing them into the shards, and a unique violation in that COPY reaches
// the client as an internal error (XX000) without constraint name; only the message, in the
// workers' language, still says what happened. A single-row INSERT with the ref is routed to the
// one shard that holds it, ON CONFLICT DO NOTHING reports a taken ref as no row written, and the
// error is raised here, on the coordinator, with exactly the fields PostgreSQL gives.
const CLAIM_BATCH_REF = `
CREATE OR REPLACE FUNCTION claim_batch_ref(p_ref text, p_sku text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO batch_refs (reference, sku) VALUES (p_ref, p_sku)
  ON CONFLICT (reference) DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'duplicate key value violates unique constraint "batch_refs_pkey"'
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'batch_refs_pkey',
        DETAIL = format('Key (reference)=(%s) already exists.', p_ref);
  END IF;
END
$fn$`;

// The one statement of the fourth form that changes; the rest of it (about 80 lines) is read
// back from the database rather than written out a fifth time.
const BULK_INSERT =
  /INSERT INTO batch_refs \(reference, sku\)\s+SELECT n\.ref, p_sku FROM jsonb_to_recordset\(p_changes->'new_batches'\) AS n \(ref text\);/;
const ONE_BY_ONE = `PERFORM claim_batch_ref(n.ref, p_sku)
    FROM jsonb_to_recordset(p_changes->'new_batches') AS n (ref text);`;

async function applyProductChangesDefinition(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: { definition: string }[] }>(
    `SELECT pg_get_functiondef('apply_product_changes(text, jsonb)'::regprocedure) AS definition`,
  );
  return rows[0].definition;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(CLAIM_BATCH_REF);
  const fourth = await applyProductChangesDefinition(knex);
  if (!BULK_INSERT.test(fourth)) {
    throw new Error('apply_product_changes is not the form 20261127235000 wrote');
  }
  await knex.raw(fourth.replace(BULK_INSERT, () => ONE_BY_ONE));
}

export async function down(knex: Knex): Promise<void> {
  const fifth = await applyProductChangesDefinition(knex);
  const bulk = `INSERT INTO batch_refs (reference, sku)
    SELECT n.ref, p_sku FROM jsonb_to_recordset(p_changes->'new_batches') AS n (ref text);`;
  await knex.raw(fifth.replace(ONE_BY_ONE, () => bulk));
  await knex.raw('DROP FUNCTION claim_batch_ref(text, text)');
}
