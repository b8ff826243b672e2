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

// apply_products_changes(group) is apply_product_changes for every product of a group commit
// (adapters/postgres/group_commit.ts) in one call: `group` is [{"sku", "changes"}, ...], each
// `changes` the document apply_product_changes takes, and each statement below runs once for the
// whole group instead of once per product. PostgreSQL CPU per group of one-line allocations
// (bench/group_commit_cost.ts: 12 alternating rounds of 400 groups, one connection, random
// order ids): 3 products 0.95 -> 0.84, 0.96 -> 0.73 and 0.86 -> 0.71 ms, 8 products 2.43 ->
// 1.61 ms; spread c16 (groups of about 3) 1.00-1.21 x (README, Group commit). For one
// product it costs more (0.36 -> 0.45 ms: the lock pass, the checks, the settings), so a unit
// committed alone keeps apply_product_changes. The two must write the same rows: a change to
// one is made to both (tests/integration/group_commit.test.ts reads what a group wrote).
export const APPLY_PRODUCTS_CHANGES = `
CREATE OR REPLACE FUNCTION product_changes_of(p_group jsonb)
RETURNS TABLE (n bigint, sku text, c jsonb) LANGUAGE sql IMMUTABLE AS $fn$
  SELECT g.n, g.e->>'sku', g.e->'changes'
  FROM jsonb_array_elements(p_group) WITH ORDINALITY AS g (e, n)
$fn$;

CREATE OR REPLACE FUNCTION apply_products_changes(p_group jsonb)
RETURNS void LANGUAGE plpgsql
-- a group holds a few products and lines: index probes, never a scan of a whole table (with
-- jsonb_to_recordset's estimate of 100 rows a product the planner chose hash joins)
SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
DECLARE
  v_at timestamptz;
  v_expected int;
  v_written int;
BEGIN
  -- The version gate for all: rows locked in sku order first (two groups never deadlock), then
  -- every product's version checked; one product that lost its race fails the whole group,
  -- whose products are then committed one by one (group_commit.ts).
  PERFORM 1 FROM products p
  WHERE p.sku IN (SELECT g.sku FROM product_changes_of(p_group) g)
  ORDER BY p.sku FOR UPDATE;
  SELECT count(*) INTO v_expected FROM product_changes_of(p_group) g
  WHERE jsonb_typeof(g.c->'expected_version') = 'number';
  UPDATE products p SET version_number = (g.c->>'version')::int,
    out_of_stock_notified =
      coalesce((g.c->>'out_of_stock_notified')::boolean, p.out_of_stock_notified)
  FROM product_changes_of(p_group) g
  WHERE p.sku = g.sku AND jsonb_typeof(g.c->'expected_version') = 'number'
    AND p.version_number = (g.c->>'expected_version')::int;
  GET DIAGNOSTICS v_written = ROW_COUNT;
  IF v_written <> v_expected THEN
    RAISE EXCEPTION 'a product of the group was changed by another transaction'
      USING ERRCODE = 'serialization_failure';
  END IF;
  SELECT count(*) INTO v_expected FROM product_changes_of(p_group) g
  WHERE jsonb_typeof(g.c->'expected_version') IS DISTINCT FROM 'number';
  IF v_expected > 0 THEN
    INSERT INTO products (sku, version_number, out_of_stock_notified)
    SELECT g.sku, (g.c->>'version')::int,
      coalesce((g.c->>'out_of_stock_notified')::boolean, false)
    FROM product_changes_of(p_group) g
    WHERE jsonb_typeof(g.c->'expected_version') IS DISTINCT FROM 'number'
    ORDER BY g.sku
    ON CONFLICT (sku) DO NOTHING;
    GET DIAGNOSTICS v_written = ROW_COUNT;
    IF v_written <> v_expected THEN
      RAISE EXCEPTION 'a product of the group was created by another transaction'
        USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;
  v_at := clock_timestamp();

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'new_batches') > 0) THEN
    PERFORM claim_batch_ref(n.ref, g.sku)
    FROM product_changes_of(p_group) g, jsonb_to_recordset(g.c->'new_batches') AS n (ref text);
    INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
    SELECT n.ref, g.sku, n.purchased, n.allocated, n.eta
    FROM product_changes_of(p_group) g, jsonb_to_recordset(g.c->'new_batches')
      AS n (ref text, purchased int, allocated int, eta date);
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'freed_lines') > 0) THEN
    DELETE FROM allocations a
    USING order_lines ol, batches b, (
      SELECT g.sku, f.ref, f.orderid FROM product_changes_of(p_group) g,
        jsonb_to_recordset(g.c->'freed_lines') AS f (ref text, orderid text)) f
    WHERE a.sku = f.sku AND ol.id = a.orderline_id AND b.id = a.batch_id
      AND b.sku = f.sku AND b.reference = f.ref AND ol.sku = f.sku AND ol.orderid = f.orderid;
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'changed_batches') > 0) THEN
    UPDATE batches b
    SET purchased_quantity = c.purchased, allocated_quantity = c.allocated,
        quantity_position = c.position
    FROM (SELECT g.sku, c.* FROM product_changes_of(p_group) g,
        jsonb_to_recordset(g.c->'changed_batches')
          AS c (ref text, purchased int, allocated int, position text)) c
    WHERE b.sku = c.sku AND b.reference = c.ref;
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'allocated_lines') > 0) THEN
    WITH added AS (
      SELECT g.sku, n.ref, n.orderid, n.qty FROM product_changes_of(p_group) g,
        jsonb_to_recordset(g.c->'allocated_lines') AS n (ref text, orderid text, qty int)
    ), lines AS (
      INSERT INTO order_lines (orderid, sku, qty) SELECT orderid, sku, qty FROM added
      ON CONFLICT (orderid, sku) DO UPDATE SET qty = EXCLUDED.qty
      RETURNING id, orderid, sku
    )
    INSERT INTO allocations (sku, orderline_id, batch_id)
    SELECT lines.sku, lines.id, b.id FROM lines
    JOIN added ON added.orderid = lines.orderid AND added.sku = lines.sku
    JOIN batches b ON b.sku = lines.sku AND b.reference = added.ref;
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'view_rows') > 0) THEN
    INSERT INTO allocations_view (orderid, sku, batchref, version, updated_at)
    SELECT v.orderid, g.sku, v.batchref, v.version, v_at
    FROM product_changes_of(p_group) g,
      jsonb_to_recordset(g.c->'view_rows') AS v (orderid text, batchref text, version int)
    ON CONFLICT (orderid, sku) DO UPDATE
      SET batchref = EXCLUDED.batchref, version = EXCLUDED.version,
        updated_at = EXCLUDED.updated_at
      WHERE allocations_view.version < EXCLUDED.version;
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'outbox') > 0) THEN
    -- in each product's order: the relay delivers a product's rows in id order
    INSERT INTO outbox (key, type, handler, payload, correlation_id, traceparent, cause)
    SELECT g.sku, o.type, o.handler, o.payload, o.correlation_id, o.traceparent, o.cause
    FROM product_changes_of(p_group) g, ROWS FROM (jsonb_to_recordset(g.c->'outbox')
        AS (type text, handler text, payload jsonb, correlation_id text, traceparent text,
            cause jsonb)) WITH ORDINALITY
      AS o (type, handler, payload, correlation_id, traceparent, cause, i)
    ORDER BY g.n, o.i;
  END IF;

  IF EXISTS (SELECT FROM product_changes_of(p_group) g
      WHERE jsonb_array_length(g.c->'history') > 0) THEN
    INSERT INTO history (sku, at, version, type, orderid, qty, batchref, qty_from, qty_to,
      cause_kind, cause_id)
    SELECT g.sku, v_at, h.version, h.type, h.orderid, h.qty, h.batchref, h."from", h."to",
      h.cause_kind, h.cause_id
    FROM product_changes_of(p_group) g, ROWS FROM (jsonb_to_recordset(g.c->'history')
        AS (version int, type text, orderid text, qty int, batchref text, "from" int, "to" int,
            cause_kind text, cause_id text)) WITH ORDINALITY
      AS h (version, type, orderid, qty, batchref, "from", "to", cause_kind, cause_id, i)
    ORDER BY g.n, h.i;
  END IF;

  INSERT INTO processed_messages (message_id, made_here)
  SELECT g.c->>'message_id', coalesce((g.c->>'message_made_here')::boolean, false)
  FROM product_changes_of(p_group) g WHERE g.c->>'message_id' IS NOT NULL;
END
$fn$`;

// On Citus the set-based statements would each span the group's shards, and a SELECT ... FOR
// UPDATE over several shards is refused: there the group's products are committed one call
// each, in sku order, as before, each routed to its product's shard.
export const APPLY_PRODUCTS_CHANGES_CITUS = `
CREATE OR REPLACE FUNCTION apply_products_changes(p_group jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_product record;
BEGIN
  FOR v_product IN
    SELECT e->>'sku' AS sku, e->'changes' AS changes FROM jsonb_array_elements(p_group) e
    ORDER BY e->>'sku'
  LOOP
    PERFORM apply_product_changes(v_product.sku, v_product.changes);
  END LOOP;
END
$fn$`;

export async function installFunctions(knex: Knex): Promise<void> {
  await knex.raw(CLAIM_BATCH_REF);
  await knex.raw(APPLY_PRODUCT_CHANGES);
  const { rows } = await knex.raw(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  await knex.raw(rows.length === 0 ? APPLY_PRODUCTS_CHANGES : APPLY_PRODUCTS_CHANGES_CITUS);
}
