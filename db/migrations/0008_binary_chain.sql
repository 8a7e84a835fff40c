-- 0008: chain v2 (entries hashed over their binary encoding) and appends by COPY.
--
-- Why: verify re-hashes every row. Under chain v1 a row's hash input is its fields printed as
-- text and joined by '|' (db/hash.ts), so verify had to rebuild that text from what the database
-- returns — most of replay's cost. Chain v2 (db/entry-binary.ts) hashes the row's binary
-- encoding: each field as a 4-byte length and Postgres's binary send format of its value, which
-- is exactly what `COPY … TO STDOUT (FORMAT binary)` returns. Verify hashes a slice of the
-- stream it reads, and the writer hashes the very bytes it appends with `COPY … FROM STDIN`:
-- a bulk append no longer goes through arrays the server must parse (measured: unnest of
-- 15 arrays cost ≈3× the insert itself).
--
-- Rows written before this migration keep hash_version 1 and verify as before.

ALTER TABLE ledger ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
-- Existing rows read as 1 (the stored default of the added column); from now on every writer
-- states the version it hashed with — an INSERT that does not is refused.
ALTER TABLE ledger ALTER COLUMN hash_version DROP DEFAULT;

DROP FUNCTION grid_commit(uuid, uuid, boolean, bigint, bigint, uuid[], integer[], text[], text[], text[], text[], text[], bigint[], text,
                          text[], text[], bytea, text[], text[], bigint[], uuid[], text[], text[], text[], text[], text[], text[], text[]);

-- Every append starts here: lock the chain head and check that the batch extends the head it was
-- decided against (p_expected_version, p_first_id - 1, p_prev_hash). Then the rows are appended
-- (by COPY, or by grid_commit below) and grid_commit_finish completes the batch.
CREATE FUNCTION grid_commit_begin(p_expected_version uuid, p_first_id bigint, p_prev_hash bytea, p_at_ms bigint)
RETURNS void LANGUAGE plpgsql
AS $$
DECLARE
  h ledger_head%ROWTYPE;
BEGIN
  SELECT * INTO h FROM ledger_head FOR UPDATE;
  IF h.state_version <> p_expected_version OR h.last_id <> p_first_id - 1 THEN
    RAISE EXCEPTION 'the state changed since this batch was decided' USING ERRCODE = 'serialization_failure';
  END IF;
  IF h.last_hash <> p_prev_hash OR p_at_ms < h.last_at_ms THEN
    -- A writer bug, not a race (the version matched): the batch does not extend this head, or
    -- time would run backwards along the chain.
    RAISE EXCEPTION 'grid_commit: the batch does not extend the head (prev hash %, at % < head %)', encode(p_prev_hash, 'hex'), p_at_ms, h.last_at_ms;
  END IF;
END $$;

-- After the batch's p_n rows (ids p_first_id …) were appended in this transaction: check that
-- they end in the new head, refuse proposal ids decided before in the other table, then balance
-- deltas, rejections and their alerts, and the new head.
--
-- With p_check_ids (the warm path, which loaded nothing), a proposal id that was decided before
-- raises unique_violation and the writer decides the batch again the slow way, which answers it
-- as a duplicate. An id applied before already collided in ledger's unique index during the
-- append, and one rejected before collides in rejected_proposals'; only the cross cases are
-- probed.
CREATE FUNCTION grid_commit_finish(
  p_new_version uuid, p_check_ids boolean, p_first_id bigint, p_n integer, p_last_hash bytea, p_at_ms bigint,
  p_validator_version text,
  p_bal_actor text[], p_bal_resource text[], p_bal_delta bigint[],
  p_rej_id uuid[], p_rej_agent text[], p_rej_kind text[], p_rej_proposal text[], p_rej_hash text[],
  p_rej_code text[], p_rej_message text[], p_rej_details text[]
) RETURNS void LANGUAGE plpgsql
-- Every statement below is a point lookup or a range of the primary key whatever the plan (see
-- 0003 on generic plans with young statistics), so plans are cached: re-planning on every call
-- cost a single proposal's commit more than the rest of it.
AS $$
DECLARE
  v_last bigint := p_first_id + p_n - 1;
  v_seen boolean;
BEGIN
  -- max(id) is read from the end of the primary key whatever the statistics say (a young
  -- table's missing statistics made `id > x` a sequential scan of the whole ledger).
  IF p_n > 0 AND (NOT EXISTS (SELECT 1 FROM ledger WHERE id = v_last AND hash = p_last_hash)
                  OR (SELECT max(id) FROM ledger) <> v_last) THEN
    RAISE EXCEPTION 'grid_commit: the appended rows do not end at id % with the new head hash', v_last;
  END IF;
  IF p_check_ids AND p_n > 0 THEN
    -- The batch's ids against earlier rejections, reading the new rows as a primary-key range.
    -- Planned for these values on every call (EXECUTE): a cached generic plan cannot know the
    -- range is small and may scan the ledger. Only the COPY path asks (≥ 64 rows, where the
    -- planning is a negligible share); grid_commit below probes its arrays itself.
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM ledger l JOIN rejected_proposals r ON r.proposal_id = l.proposal_id
                            WHERE l.id BETWEEN $1 AND $2 AND l.leg = 0)'
      INTO v_seen USING p_first_id, v_last;
    IF v_seen THEN
      RAISE EXCEPTION 'a proposal id in the batch was rejected before' USING ERRCODE = 'unique_violation';
    END IF;
  END IF;
  IF p_check_ids AND EXISTS (SELECT 1 FROM unnest(p_rej_id) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid) THEN
    RAISE EXCEPTION 'a proposal id in the batch was applied before' USING ERRCODE = 'unique_violation';
  END IF;
  IF COALESCE(array_length(p_bal_actor, 1), 0) > 0 THEN
    -- One upsert: each delta finds its row through the primary key. (0007's UPDATE … FROM
    -- unnest joined by hash over a sequential scan of balances — every commit read every
    -- balance; measured 0.15 ms a commit at 1 000 accounts, growing with the registry.) The
    -- client sums deltas per (actor, resource), so no row is affected twice. No lock-order sort
    -- needed: every writer holds the chain head while it touches balances.
    INSERT INTO balances (actor, resource, amount)
    SELECT * FROM unnest(p_bal_actor, p_bal_resource, p_bal_delta)
    ON CONFLICT (actor, resource) DO UPDATE SET amount = balances.amount + EXCLUDED.amount;
  END IF;
  IF COALESCE(array_length(p_rej_code, 1), 0) > 0 THEN
    WITH rej AS (
      INSERT INTO rejected_proposals (proposal_id, agent, kind, proposal, proposal_hash, code, message, details, validator_version, rejected_at)
      SELECT p, ag, k, pr::jsonb, ph, c, msg, d::jsonb, p_validator_version, timestamptz 'epoch' + p_at_ms * interval '1 millisecond'
      FROM unnest(p_rej_id, p_rej_agent, p_rej_kind, p_rej_proposal, p_rej_hash, p_rej_code, p_rej_message, p_rej_details)
        AS x(p, ag, k, pr, ph, c, msg, d)
      RETURNING id, proposal_id, agent, kind, proposal, code, message, details, validator_version, rejected_at
    )
    INSERT INTO outbox (topic, key, payload)
    SELECT 'rejection', COALESCE(proposal_id::text, 'rejection:' || id), to_jsonb(rej) FROM rej
    ON CONFLICT (topic, key) DO NOTHING;
  END IF;
  -- Last, after the balance trigger has run: the version this writer's cache now describes.
  UPDATE ledger_head SET last_id = v_last,
                         last_hash = CASE WHEN p_n > 0 THEN p_last_hash ELSE last_hash END,
                         last_at_ms = CASE WHEN p_n > 0 THEN p_at_ms ELSE last_at_ms END,
                         state_version = p_new_version;
END $$;

-- A small batch in one statement (one round trip): begin, the rows from arrays, finish. The
-- writer sends larger batches as begin, COPY, finish instead (db/commit.ts). Rows are chain v2:
-- the client hashed them over their binary encoding (p_hashes: 32 bytes each, in order); the
-- first row's prev_hash is the head's (checked by begin), every other one its predecessor's hash.
CREATE FUNCTION grid_commit(
  p_expected_version uuid, p_new_version uuid, p_check_ids boolean, p_first_id bigint, p_prev_hash bytea, p_at_ms bigint,
  p_proposal_id uuid[], p_leg integer[], p_kind text[], p_agent text[], p_from text[], p_to text[],
  p_resource text[], p_amount bigint[], p_validator_version text, p_proposal_hash text[],
  p_metadata text[], p_hashes bytea,
  p_bal_actor text[], p_bal_resource text[], p_bal_delta bigint[],
  p_rej_id uuid[], p_rej_agent text[], p_rej_kind text[], p_rej_proposal text[], p_rej_hash text[],
  p_rej_code text[], p_rej_message text[], p_rej_details text[]
) RETURNS void LANGUAGE plpgsql
AS $$
DECLARE
  n integer := COALESCE(array_length(p_proposal_id, 1), 0);
BEGIN
  PERFORM grid_commit_begin(p_expected_version, p_first_id, p_prev_hash, p_at_ms);
  IF length(p_hashes) <> 32 * n THEN
    RAISE EXCEPTION 'grid_commit: % hash bytes for % entries', length(p_hashes), n;
  END IF;
  -- The cross cases of grid_commit_finish's probe, from the arrays (see there).
  IF p_check_ids AND (
       EXISTS (SELECT 1 FROM unnest(p_proposal_id) AS x(pid) JOIN rejected_proposals r ON r.proposal_id = x.pid)
    OR EXISTS (SELECT 1 FROM unnest(p_rej_id) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid)) THEN
    RAISE EXCEPTION 'a proposal id in the batch was decided before' USING ERRCODE = 'unique_violation';
  END IF;
  IF n > 0 THEN
    INSERT INTO ledger (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
                        executed_at, proposal_hash, metadata, prev_hash, hash, hash_version)
    SELECT p_first_id + o - 1, p, l, k, ag, f, t, r, a, p_validator_version,
           timestamptz 'epoch' + p_at_ms * interval '1 millisecond', ph, m::jsonb,
           CASE WHEN o = 1 THEN p_prev_hash ELSE substring(p_hashes FROM (o::integer - 2) * 32 + 1 FOR 32) END,
           substring(p_hashes FROM (o::integer - 1) * 32 + 1 FOR 32), 2
    FROM unnest(p_proposal_id, p_leg, p_kind, p_agent, p_from, p_to, p_resource, p_amount, p_proposal_hash, p_metadata)
         WITH ORDINALITY AS x(p, l, k, ag, f, t, r, a, ph, m, o);
  END IF;
  PERFORM grid_commit_finish(p_new_version, false, p_first_id, n,
                             CASE WHEN n > 0 THEN substring(p_hashes FROM (n - 1) * 32 + 1 FOR 32) END, p_at_ms, p_validator_version,
                             p_bal_actor, p_bal_resource, p_bal_delta,
                             p_rej_id, p_rej_agent, p_rej_kind, p_rej_proposal, p_rej_hash, p_rej_code, p_rej_message, p_rej_details);
END $$;

-- The rate-limit window index (0001), rebuilt to compare agent ids bytewise. Every append
-- inserts into it, and under the database's default collation each comparison is a strcoll()
-- call: measured on this project's bench, 2.3 µs of server time a row against 1.6 µs with
-- "C" — about a tenth of an append's whole server cost, and ≈9 % more batched throughput.
-- Ids are ASCII ([A-Za-z0-9_.:@-], validator/schemas.ts), so bytewise order is as good as any.
DROP INDEX ledger_agent_time;
CREATE INDEX ledger_agent_time ON ledger (agent COLLATE "C", executed_at) WHERE leg = 0;

-- grid_load exactly as in 0007 except for the one comparison that reads the index above: a
-- query must compare with the index's collation for the index to serve it.
CREATE OR REPLACE FUNCTION grid_load(
  p_ids uuid[], p_actors text[], p_holders text[], p_offers uuid[],
  p_rate_agents text[], p_since_ms bigint, p_rate_cap integer, p_warm_cap integer
) RETURNS jsonb LANGUAGE plpgsql
-- Point lookups only (see 0003 for what generic plans did here with young statistics).
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  h ledger_head%ROWTYPE;
  v_actors text[];
BEGIN
  SELECT * INTO h FROM ledger_head FOR UPDATE;
  IF p_warm_cap > 0 AND (SELECT count(*) FROM (SELECT 1 FROM actors LIMIT p_warm_cap + 1) x) <= p_warm_cap THEN
    p_actors := ARRAY(SELECT id FROM actors);
    p_rate_agents := p_actors;
  END IF;
  v_actors := p_actors
    || COALESCE((SELECT array_agg(maker) FROM offers WHERE offer_id = ANY(p_offers)), '{}')
    || COALESCE((SELECT array_agg(DISTINCT b.actor) FROM balances b WHERE b.resource = ANY(p_holders) AND b.amount > 0), '{}');
  RETURN jsonb_build_object(
    'head', jsonb_build_object('last_id', h.last_id::text, 'last_hash', encode(h.last_hash, 'hex'),
                               'last_at_ms', h.last_at_ms::text, 'state_version', h.state_version),
    'policy', (SELECT policy FROM policies ORDER BY version DESC LIMIT 1),
    'breaker', (SELECT jsonb_build_object('open', open, 'reason', reason, 'by', set_by) FROM breaker),
    'decided', COALESCE((
      SELECT jsonb_agg(d) FROM (
        SELECT jsonb_build_object('proposal_id', y.proposal_id, 'outcome', 'applied', 'proposal_hash', y.proposal_hash) AS d
          FROM (SELECT l.proposal_id, l.proposal_hash, l.leg FROM unnest(p_ids) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid OFFSET 0) y
          WHERE y.leg = 0
        UNION ALL
        SELECT jsonb_build_object('proposal_id', r.proposal_id, 'outcome', 'rejected', 'proposal_hash', r.proposal_hash,
                                  'code', r.code, 'message', r.message, 'details', r.details,
                                  'validator_version', r.validator_version)
          FROM unnest(p_ids) AS x(pid) JOIN rejected_proposals r ON r.proposal_id = x.pid
      ) x), '[]'::jsonb),
    'actors', COALESCE((SELECT jsonb_agg(jsonb_build_array(id, kind)) FROM actors WHERE id = ANY(v_actors)), '[]'::jsonb),
    'resources', COALESCE((SELECT jsonb_agg(jsonb_build_array(id, unit)) FROM resources), '[]'::jsonb),
    'balances', COALESCE((
      SELECT jsonb_agg(jsonb_build_array(actor, resource, amount::text)) FROM (
        SELECT b.actor, b.resource, b.amount FROM balances b WHERE b.actor = ANY(v_actors)
      ) x), '[]'::jsonb),
    'offers', COALESCE((
      SELECT jsonb_agg(jsonb_build_object('offer_id', offer_id, 'maker', maker, 'give_resource', give_resource,
        'give_amount', give_amount::text, 'want_resource', want_resource, 'want_amount', want_amount::text,
        'counterparty', counterparty, 'expires_at_ms', expires_at_ms, 'status', status))
      FROM offers WHERE offer_id = ANY(p_offers)), '[]'::jsonb),
    'actions', COALESCE((
      SELECT jsonb_object_agg(a, w) FROM (
        SELECT a, COALESCE((
                 SELECT jsonb_agg(jsonb_build_array(t.at_ms::text, t.n) ORDER BY t.at_ms) FROM (
                   SELECT (extract(epoch FROM e.executed_at) * 1000)::bigint AS at_ms, count(*) AS n FROM (
                     SELECT l.executed_at FROM ledger l
                     -- COLLATE "C": the comparison the index below is built for (or it is not used).
                     WHERE l.leg = 0 AND l.agent = a COLLATE "C"
                       AND l.executed_at > timestamptz 'epoch' + p_since_ms * interval '1 millisecond'
                     ORDER BY l.executed_at DESC
                     LIMIT p_rate_cap) e
                   GROUP BY 1) t), '[]'::jsonb) AS w
        FROM unnest(p_rate_agents) AS a
        -- Only agents are rate limited (see 0003: counting the system's window went quadratic).
        WHERE EXISTS (SELECT 1 FROM actors WHERE id = a AND kind = 'agent')) y), '{}'::jsonb)
  );
END $$;

