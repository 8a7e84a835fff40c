-- 0005: read models for the bridge (streamlit-bridge/) and anything else that only looks.
--
-- Why views: readers depend on these names and columns, not on the tables the writer owns, so
-- the write path can change its storage without breaking a dashboard; and the read-only role is
-- granted exactly these. A view runs with its owner's privileges, so grid_reader needs no
-- grant on the tables behind it.
--
-- Times are also given as epoch milliseconds (bigint) because every client plots in ms and the
-- MetricsWindow folds ms; ids stay bigint (JSON clients receive them as strings).

-- Ledger rows with the time in ms, for tailing by id (ledger_entries from 0001 lacks it).
CREATE VIEW ledger_feed AS
  SELECT id, proposal_id::text AS proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount,
         validator_version, executed_at, (extract(epoch from executed_at) * 1000)::bigint AS at_ms,
         metadata, encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
  FROM ledger;

-- Refused proposals without the raw input (up to 16 KiB each): the fields a feed shows, plus
-- what the proposal asked for, so a person sees "bob tried to move 900 energy to carol".
CREATE VIEW rejection_feed AS
  SELECT id, proposal_id::text AS proposal_id, agent, kind, code, message, details, validator_version,
         rejected_at, (extract(epoch from rejected_at) * 1000)::bigint AS at_ms,
         left(proposal->>'from', 64) AS from_actor, left(proposal->>'to', 64) AS to_actor,
         left(proposal->>'resource', 64) AS resource, left(proposal->>'amount', 40) AS amount,
         left(proposal->>'reasoning', 280) AS reasoning
  FROM rejected_proposals;

-- Alerts as recorded by the writer (outbox) with their delivery state per channel (0004).
CREATE VIEW alert_feed AS
  SELECT o.id, o.topic, o.key, o.created_at, (extract(epoch from o.created_at) * 1000)::bigint AS at_ms,
         o.payload->>'code' AS code,
         left(COALESCE(o.payload->>'message', o.payload->>'reason'), 500) AS message,
         COALESCE(o.payload->>'agent', o.payload->>'by') AS agent,
         CASE WHEN o.topic = 'breaker' THEN (o.payload->>'open')::boolean END AS breaker_open,
         COALESCE((SELECT jsonb_object_agg(d.channel, d.status) FROM outbox_deliveries d WHERE d.outbox_id = o.id),
                  '{}'::jsonb) AS deliveries
  FROM outbox o;

-- The circuit breaker with the time of the entry that last set it (NULL at genesis).
CREATE VIEW breaker_state AS
  SELECT b.open, b.reason, b.set_by, b.entry_id, l.executed_at AS set_at,
         (extract(epoch from l.executed_at) * 1000)::bigint AS set_at_ms
  FROM breaker b LEFT JOIN ledger l ON l.id = b.entry_id;

-- The chain head: the last applied entry, its hash and time.
CREATE VIEW chain_head AS
  SELECT last_id, encode(last_hash, 'hex') AS head_hash, last_at_ms FROM ledger_head;

CREATE VIEW current_policy AS
  SELECT version, policy, set_by, set_at FROM policies ORDER BY version DESC LIMIT 1;

CREATE VIEW open_offers AS
  SELECT offer_id::text AS offer_id, maker, give_resource, give_amount, want_resource, want_amount,
         counterparty, expires_at_ms
  FROM offers WHERE status = 'open';

CREATE VIEW actor_registry AS SELECT id, kind, created_at FROM actors;
CREATE VIEW resource_registry AS SELECT id, unit FROM resources;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader') THEN
    GRANT SELECT ON ledger_feed, rejection_feed, alert_feed, breaker_state, chain_head, current_policy,
                    open_offers, actor_registry, resource_registry, world_state, ledger_entries TO grid_reader;
  END IF;
END $$;
