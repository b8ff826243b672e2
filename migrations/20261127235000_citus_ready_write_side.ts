import type { Knex } from 'knex';

// The write side made ready for Citus (SCALING.md, "Past one database"), on every engine:
// - `allocations.sku`, so every write-side table carries the sku and every statement can name it;
// - `batch_refs` (reference -> sku): a quantity change finds its product by reference through
//   this table, on one shard, instead of asking every shard of `batches`; it also holds the
//   global uniqueness of a batch ref, which a sku-distributed `batches` cannot;
// - apply_product_changes (its fourth form; the third is 20261127160000) names the sku in every statement, writes the sku of
//   each allocation and the ref of each new batch (first: a duplicate ref fails there).
// On Citus (extension present), the following migration distributes the tables.
const APPLY_PRODUCT_CHANGES = `
CREATE OR REPLACE FUNCTION apply_product_changes(p_sku text, p_changes jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF jsonb_typeof(p_changes->'expected_version') = 'number' THEN
    UPDATE products SET version_number = (p_changes->>'version')::int
    WHERE sku = p_sku AND version_number = (p_changes->>'expected_version')::int;
  ELSE
    INSERT INTO products (sku, version_number) VALUES (p_sku, (p_changes->>'version')::int)
    ON CONFLICT (sku) DO NOTHING;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'product % was changed by another transaction', p_sku
      USING ERRCODE = 'serialization_failure';
  END IF;

  IF jsonb_array_length(p_changes->'new_batches') > 0 THEN
    -- first: a ref taken by any product fails here (batch_refs_pkey)
    INSERT INTO batch_refs (reference, sku)
    SELECT n.ref, p_sku FROM jsonb_to_recordset(p_changes->'new_batches') AS n (ref text);
    INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
    SELECT n.ref, p_sku, n.purchased, n.allocated, n.eta
    FROM jsonb_to_recordset(p_changes->'new_batches')
      AS n (ref text, purchased int, allocated int, eta date);
  END IF;

  IF jsonb_array_length(p_changes->'freed_lines') > 0 THEN
    DELETE FROM allocations a
    USING order_lines ol, batches b,
      jsonb_to_recordset(p_changes->'freed_lines') AS f (ref text, orderid text)
    WHERE a.sku = p_sku AND ol.id = a.orderline_id AND b.id = a.batch_id
      AND b.sku = p_sku AND b.reference = f.ref AND ol.sku = p_sku AND ol.orderid = f.orderid;
  END IF;

  IF jsonb_array_length(p_changes->'changed_batches') > 0 THEN
    UPDATE batches b
    SET purchased_quantity = c.purchased, allocated_quantity = c.allocated,
        quantity_position = c.position
    FROM jsonb_to_recordset(p_changes->'changed_batches')
      AS c (ref text, purchased int, allocated int, position text)
    WHERE b.sku = p_sku AND b.reference = c.ref;
  END IF;

  IF jsonb_array_length(p_changes->'allocated_lines') > 0 THEN
    -- A freed line keeps its order_lines row; allocating it again reuses that row.
    WITH added AS (
      SELECT * FROM jsonb_to_recordset(p_changes->'allocated_lines')
        AS n (ref text, orderid text, qty int)
    ), lines AS (
      INSERT INTO order_lines (orderid, sku, qty) SELECT orderid, p_sku, qty FROM added
      ON CONFLICT (orderid, sku) DO UPDATE SET qty = EXCLUDED.qty
      RETURNING id, orderid
    )
    INSERT INTO allocations (sku, orderline_id, batch_id)
    SELECT p_sku, lines.id, b.id FROM lines
    JOIN added ON added.orderid = lines.orderid
    JOIN batches b ON b.sku = p_sku AND b.reference = added.ref;
  END IF;

  IF jsonb_array_length(p_changes->'view_rows') > 0 THEN
    -- versioned: a row never replaces a newer one (20261127100001)
    INSERT INTO allocations_view (orderid, sku, batchref, version)
    SELECT v.orderid, p_sku, v.batchref, v.version
    FROM jsonb_to_recordset(p_changes->'view_rows') AS v (orderid text, batchref text, version int)
    ON CONFLICT (orderid, sku) DO UPDATE
      SET batchref = EXCLUDED.batchref, version = EXCLUDED.version
      WHERE allocations_view.version < EXCLUDED.version;
  END IF;

  IF jsonb_array_length(p_changes->'outbox') > 0 THEN
    INSERT INTO outbox (key, type, handler, payload, correlation_id, traceparent)
    SELECT p_sku, o.type, o.handler, o.payload, o.correlation_id, o.traceparent
    FROM jsonb_to_recordset(p_changes->'outbox')
      AS o (type text, handler text, payload jsonb, correlation_id text, traceparent text);
  END IF;

  IF p_changes->>'message_id' IS NOT NULL THEN
    -- A duplicate committed first: unique violation, a conflict the bus retries into a no-op.
    INSERT INTO processed_messages (message_id) VALUES (p_changes->>'message_id');
  END IF;
END
$fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE allocations ADD COLUMN sku varchar(255)');
  await knex.raw(
    'UPDATE allocations a SET sku = ol.sku FROM order_lines ol WHERE ol.id = a.orderline_id',
  );
  await knex.raw('ALTER TABLE allocations ALTER COLUMN sku SET NOT NULL');
  await knex.raw(`
    CREATE TABLE batch_refs (
      reference varchar(255) PRIMARY KEY,
      sku varchar(255) NOT NULL
    )`);
  await knex.raw('INSERT INTO batch_refs (reference, sku) SELECT reference, sku FROM batches');
  await knex.raw(APPLY_PRODUCT_CHANGES);
}

export function down(): Promise<void> {
  return Promise.reject(
    new Error('irreversible: restore apply_product_changes from 20261127160000 by hand'),
  );
}
