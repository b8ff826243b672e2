// The live text of the SQL functions the service calls, in one place (issue 19): the latest
// migration that installs them imports this file. A change edits the text here and adds a
// migration that calls installFunctions() again; earlier migrations keep the forms they wrote.
//
// apply_product_changes(sku, changes) is the unit of work's whole commit of one product
// (adapters/postgres/postgres_unit_of_work.ts): the version gate first, then every row the change
// writes, from the document productChanges() builds (adapters/postgres/product_changes.ts).
import type { Knex } from 'knex';

// A new batch claims its ref in batch_refs one row at a time, and a ref already taken raises the
// same error on every engine (23505 naming batch_refs_pkey): on Citus, a bulk INSERT ... SELECT
// is COPYed into the shards and a unique violation there reaches the client as XX000 without
// the constraint's name (20261127235100).
export const CLAIM_BATCH_REF = `
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

export const APPLY_PRODUCT_CHANGES = `
CREATE OR REPLACE FUNCTION apply_product_changes(p_sku text, p_changes jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  -- The commit's time, read once the version gate below holds the product's row: a product's
  -- rows are then in the order of its versions by time too (now() is when the transaction began,
  -- which for a unit of work that waited for the lock is before the change it waited for). A
  -- variable, so statements get a constant: Citus refuses a function in an INSERT's DO UPDATE.
  v_at timestamptz;
BEGIN
  -- out_of_stock_notified: absent from a document of an older process, which keeps it as it is
  IF jsonb_typeof(p_changes->'expected_version') = 'number' THEN
    UPDATE products SET version_number = (p_changes->>'version')::int,
      out_of_stock_notified =
        coalesce((p_changes->>'out_of_stock_notified')::boolean, out_of_stock_notified)
    WHERE sku = p_sku AND version_number = (p_changes->>'expected_version')::int;
  ELSE
    INSERT INTO products (sku, version_number, out_of_stock_notified)
    VALUES (p_sku, (p_changes->>'version')::int,
      coalesce((p_changes->>'out_of_stock_notified')::boolean, false))
    ON CONFLICT (sku) DO NOTHING;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'product % was changed by another transaction', p_sku
      USING ERRCODE = 'serialization_failure';
  END IF;
  v_at := clock_timestamp();

  IF jsonb_array_length(p_changes->'new_batches') > 0 THEN
    -- first: a ref taken by any product fails here (batch_refs_pkey)
    PERFORM claim_batch_ref(n.ref, p_sku)
    FROM jsonb_to_recordset(p_changes->'new_batches') AS n (ref text);
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
    -- updated_at: a tombstone (batchref null) is pruned by its age (adapters/postgres/retention.ts)
    INSERT INTO allocations_view (orderid, sku, batchref, version, updated_at)
    SELECT v.orderid, p_sku, v.batchref, v.version, v_at
    FROM jsonb_to_recordset(p_changes->'view_rows') AS v (orderid text, batchref text, version int)
    ON CONFLICT (orderid, sku) DO UPDATE
      SET batchref = EXCLUDED.batchref, version = EXCLUDED.version,
        updated_at = EXCLUDED.updated_at
      WHERE allocations_view.version < EXCLUDED.version;
  END IF;

  IF jsonb_array_length(p_changes->'outbox') > 0 THEN
    INSERT INTO outbox (key, type, handler, payload, correlation_id, traceparent, cause)
    SELECT p_sku, o.type, o.handler, o.payload, o.correlation_id, o.traceparent, o.cause
    FROM jsonb_to_recordset(p_changes->'outbox')
      AS o (type text, handler text, payload jsonb, correlation_id text, traceparent text,
            cause jsonb);
  END IF;

  IF jsonb_array_length(p_changes->'history') > 0 THEN
    INSERT INTO history (sku, at, version, type, orderid, qty, batchref, qty_from, qty_to,
      cause_kind, cause_id)
    SELECT p_sku, v_at, h.version, h.type, h.orderid, h.qty, h.batchref, h."from", h."to",
      h.cause_kind, h.cause_id
    FROM jsonb_to_recordset(p_changes->'history')
      AS h (version int, type text, orderid text, qty int, batchref text, "from" int, "to" int,
            cause_kind text, cause_id text);
  END IF;

  IF p_changes->>'message_id' IS NOT NULL THEN
    -- A duplicate committed first: unique violation, a conflict the bus retries into a no-op.
    -- made_here: an id the service made up, apart from every sender's (20261207130000)
    INSERT INTO processed_messages (message_id, made_here)
    VALUES (p_changes->>'message_id', coalesce((p_changes->>'message_made_here')::boolean, false));
  END IF;
END
$fn$`;

export async function installFunctions(knex: Knex): Promise<void> {
  await knex.raw(CLAIM_BATCH_REF);
  await knex.raw(APPLY_PRODUCT_CHANGES);
}
