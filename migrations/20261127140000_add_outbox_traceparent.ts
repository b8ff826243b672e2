import type { Knex } from 'knex';

// The outbox row keeps the W3C trace context (`traceparent`) of the handler span that wrote it,
// so its delivery, in whichever process and however much later, continues that trace. The rows
// are written by apply_product_changes (20261127100003), redefined here to pass the new field;
// `down` restores the previous definition from the same text.
const applyProductChanges = (withTraceparent: boolean): string => {
  const trace = withTraceparent
    ? { column: ', traceparent', value: ', o.traceparent', type: ', traceparent text' }
    : { column: '', value: '', type: '' };
  return `
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

  INSERT INTO outbox (key, type, handler, payload, correlation_id${trace.column})
  SELECT p_sku, o.type, o.handler, o.payload, o.correlation_id${trace.value}
  FROM jsonb_to_recordset(p_changes->'outbox')
    AS o (type text, handler text, payload jsonb, correlation_id text${trace.type});

  IF p_changes->>'message_id' IS NOT NULL THEN
    -- A duplicate committed first: unique violation, a conflict the bus retries into a no-op.
    INSERT INTO processed_messages (message_id) VALUES (p_changes->>'message_id');
  END IF;
END
$fn$`;
};

export async function up(knex: Knex): Promise<void> {
  // 55 characters in version 00 of the format; room for a later version's longer form
  await knex.raw('ALTER TABLE outbox ADD COLUMN traceparent varchar(255)');
  await knex.raw(applyProductChanges(true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(applyProductChanges(false));
  await knex.raw('ALTER TABLE outbox DROP COLUMN traceparent');
}
