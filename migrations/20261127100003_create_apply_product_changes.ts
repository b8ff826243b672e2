import type { Knex } from 'knex';

// The write side's one write: every change a unit of work made to a product, applied by one
// call (see adapters/postgres/postgres_unit_of_work.ts). The version check comes first and raises
// serialization_failure when another transaction changed the product since it was loaded, so
// a lost race writes nothing: the gate is the function's first statement, not a convention
// each write must remember. Arrays travel as one jsonb parameter, so a change that frees
// 20,000 lines is still one fixed, prepared statement (no bind parameter per line).
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

  INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
  SELECT n.ref, p_sku, n.purchased, n.allocated, n.eta
  FROM jsonb_to_recordset(p_changes->'new_batches')
    AS n (ref text, purchased int, allocated int, eta date);

  DELETE FROM allocations a
  USING order_lines ol, batches b,
    jsonb_to_recordset(p_changes->'freed_lines') AS f (ref text, orderid text)
  WHERE ol.id = a.orderline_id AND b.id = a.batch_id
    AND b.sku = p_sku AND b.reference = f.ref AND ol.sku = p_sku AND ol.orderid = f.orderid;

  UPDATE batches b
  SET purchased_quantity = c.purchased, allocated_quantity = c.allocated,
      quantity_position = c.position
  FROM jsonb_to_recordset(p_changes->'changed_batches')
    AS c (ref text, purchased int, allocated int, position text)
  WHERE b.sku = p_sku AND b.reference = c.ref;

  -- A freed line keeps its order_lines row; allocating it again reuses that row.
  WITH added AS (
    SELECT * FROM jsonb_to_recordset(p_changes->'allocated_lines')
      AS n (ref text, orderid text, qty int)
  ), lines AS (
    INSERT INTO order_lines (orderid, sku, qty) SELECT orderid, p_sku, qty FROM added
    ON CONFLICT (orderid, sku) DO UPDATE SET qty = EXCLUDED.qty
    RETURNING id, orderid
  )
  INSERT INTO allocations (orderline_id, batch_id)
  SELECT lines.id, b.id FROM lines
  JOIN added ON added.orderid = lines.orderid
  JOIN batches b ON b.sku = p_sku AND b.reference = added.ref;

  INSERT INTO outbox (key, type, handler, payload, correlation_id)
  SELECT p_sku, o.type, o.handler, o.payload, o.correlation_id
  FROM jsonb_to_recordset(p_changes->'outbox')
    AS o (type text, handler text, payload jsonb, correlation_id text);

  IF p_changes->>'message_id' IS NOT NULL THEN
    -- A duplicate committed first: unique violation, a conflict the bus retries into a no-op.
    INSERT INTO processed_messages (message_id) VALUES (p_changes->>'message_id');
  END IF;
END
$fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(APPLY_PRODUCT_CHANGES);
  // A quantity change reads a batch's newest lines first (keyset pages on this index).
  await knex.raw('CREATE INDEX allocations_batch_newest_idx ON allocations (batch_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX allocations_batch_newest_idx');
  await knex.raw('DROP FUNCTION apply_product_changes(text, jsonb)');
}
