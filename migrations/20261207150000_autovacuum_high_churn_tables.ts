import type { Knex } from 'knex';

// Per-table autovacuum for the tables every allocation writes. PostgreSQL's defaults vacuum a
// table once a fifth of it is dead (autovacuum_vacuum_scale_factor 0.2) and analyse it once a
// tenth has changed: the outbox, where every delivered message leaves a dead row (the relay
// sets delivered_at; retention deletes a day later), waited with as many dead rows as live ones,
// and its relay queries and the hot path's inserts paid for them until autovacuum came by
// (issue 23: hot c32 at 0.55-0.7 x its vacuumed rate). Here a table is vacuumed and analysed
// after a fixed number of changes instead of a fraction of its size, without the cost-based
// sleeps (a pass over the recently changed pages of a small table is short). The pages hit
// by the hot path (products' versions, batches' totals) keep room for HOT updates, so an
// allocation's update stays on its page and leaves no index entry behind.
//
// Autovacuum still visits a database at most once per autovacuum_naptime (a server setting, 1
// minute by default): these settings decide what it does when it comes, not when it comes.
//
// Measured: nothing shown. In a fresh database's first seconds autovacuum has not come yet
// (bench hotfresh, 2026-12-07: fresh vs vacuumed still 0.41-0.51 x with these, 0.34-0.77 x
// without, the outbox 1,500-9,000 dead rows at the time). What they change is the steady
// state: an outbox holding a day of rows is vacuumed every 1,000 dead rows, not every 20 %.
//
// On Citus, ALTER TABLE ... SET on a distributed table is propagated to its shards.
const CHURN = {
  autovacuum_vacuum_scale_factor: 0,
  autovacuum_vacuum_threshold: 1000,
  autovacuum_vacuum_insert_scale_factor: 0,
  autovacuum_vacuum_insert_threshold: 5000,
  autovacuum_analyze_scale_factor: 0,
  autovacuum_analyze_threshold: 2000,
  autovacuum_vacuum_cost_delay: 0,
};
const TABLES: Record<string, Record<string, number>> = {
  // a delivered message is an updated row (delivered_at), later a deleted one
  outbox: CHURN,
  // a version per allocation: updated in place, so room on the page for the new version
  products: { ...CHURN, fillfactor: 50 },
  batches: { ...CHURN, fillfactor: 70 },
  // upserts over older versions, and retention's deletes
  allocations_view: CHURN,
  processed_messages: CHURN,
  // inserts only: vacuumed for their visibility maps (index-only scans of the loads)
  order_lines: CHURN,
  allocations: CHURN,
};

export async function up(knex: Knex): Promise<void> {
  for (const [table, settings] of Object.entries(TABLES)) {
    const list = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
    await knex.raw(`ALTER TABLE ?? SET (${list.join(', ')})`, [table]);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, settings] of Object.entries(TABLES)) {
    await knex.raw(`ALTER TABLE ?? RESET (${Object.keys(settings).join(', ')})`, [table]);
  }
}
