import type { Knex } from 'knex';

// apply_product_changes, third form: it also writes the read-model rows of the change
// (`view_rows`, from the inline event handlers), so allocations_view changes in the same
// commit as the write side; and it runs only the statements a change needs (an allocation uses
// three of eight). Undelivered `read_model` outbox rows from the previous form are settled by
// rebuilding the view from the write side once, as 20261127100001 did.
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
    INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
    SELECT n.ref, p_sku, n.purchased, n.allocated, n.eta
    FROM jsonb_to_recordset(p_changes->'new_batches')
      AS n (ref text, purchased int, allocated int, eta date);
  END IF;

  IF jsonb_array_length(p_changes->'freed_lines') > 0 THEN
    DELETE FROM allocations a
    USING order_lines ol, batches b,
      jsonb_to_recordset(p_changes->'freed_lines') AS f (ref text, orderid text)
    WHERE ol.id = a.orderline_id AND b.id = a.batch_id
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
    INSERT INTO allocations (orderline_id, batch_id)
    SELECT lines.id, b.id FROM lines
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
  await knex.raw(APPLY_PRODUCT_CHANGES);
  await knex.raw(
    `UPDATE outbox SET delivered_at = now()
     WHERE handler = 'read_model' AND delivered_at IS NULL`,
  );
  await knex.raw(`
    INSERT INTO allocations_view (orderid, sku, batchref, version)
    SELECT ol.orderid, ol.sku, b.reference, p.version_number
    FROM allocations a
    JOIN order_lines ol ON ol.id = a.orderline_id
    JOIN batches b ON b.id = a.batch_id
    JOIN products p ON p.sku = b.sku
    ON CONFLICT (orderid, sku) DO UPDATE
      SET batchref = EXCLUDED.batchref, version = EXCLUDED.version
      WHERE allocations_view.version < EXCLUDED.version`);
  await knex.raw(`
    UPDATE allocations_view v SET batchref = NULL, version = p.version_number
    FROM products p
    WHERE p.sku = v.sku AND v.batchref IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM order_lines ol JOIN allocations a ON a.orderline_id = ol.id
      WHERE ol.orderid = v.orderid AND ol.sku = v.sku)`);
}

// The earlier forms are restored by rolling back the migrations that made them; this one only
// adds work a rollback does not need to undo (its view rows stay valid).
export async function down(): Promise<void> {}
