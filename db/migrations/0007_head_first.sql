-- 0007: head-first writing and the writer's warm cache.
--
-- Why: the writer's cost was dominated by work around the law, not by the law (profile of a
-- 1000-proposal batch on Postgres: grid_load ≈30 µs/proposal — a row lock on every named actor
-- plus jsonb building; grid_append ≈34 µs — re-planned statements and a plpgsql sha256 loop;
-- against ≈9 µs for a bare INSERT of the same rows). Two changes:
--
-- 1. Head first. grid_load now takes the chain-head lock before it reads anything, instead of
--    one row lock per named actor. Every state change already serialized on the head; taking it
--    first means the state a batch is decided against cannot change before it commits, so no
--    actor locks, no re-checks at append time, and no retries.
--
-- 2. state_version. Every commit that changes what the law reads sets ledger_head.state_version
--    to a fresh random uuid (the writer's commit sets the one it chose; any other write to the
--    registry or a cache table gets one from the statement trigger below). A writer that holds
--    the state in memory (db/writer.ts, its warm cache) may then decide a batch WITHOUT loading
--    anything and commit it in one statement, grid_commit, which appends only if state_version
--    is still the one the cache was built at. Otherwise it raises serialization_failure and the
--    writer decides the batch again the slow way (grid_load under the lock). A random uuid, not a
--    counter: two writers can never both believe they hold version N+1.
--
-- Hashing moves to the client: the writer knows the head (it holds the lock, or its cache is
-- proven current by state_version), so it numbers and hashes entries itself (db/hash.ts, the
-- same definition verify uses) and the database checks the link to the head it holds.

ALTER TABLE ledger_head ADD COLUMN state_version uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';

-- Any write outside grid_commit to what the law reads makes every warm cache stale.
CREATE FUNCTION grid_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ledger_head SET state_version = gen_random_uuid();
  RETURN NULL;
END $$;

CREATE TRIGGER actors_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON actors
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();
CREATE TRIGGER resources_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resources
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();
CREATE TRIGGER balances_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON balances
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();
CREATE TRIGGER policies_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON policies
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();
CREATE TRIGGER breaker_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON breaker
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();
CREATE TRIGGER offers_state_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON offers
  FOR EACH STATEMENT EXECUTE FUNCTION grid_state_changed();

DROP FUNCTION grid_append(integer, boolean, bigint, uuid[], integer[], text[], text[], text[], text[], text[], bigint[], text,
                          text[], text[], text[], text[], text[], bigint[], uuid[], text[], text[], text[], text[], text[], text[], text[]);
DROP FUNCTION grid_load(uuid[], text[], text[], uuid[], text[], bigint, integer);

-- The state a batch is decided against, read under the chain-head lock (held to commit).
-- 'actions' gives, per agent, the decision times of its applied proposals in the rate window
-- as [at_ms, count] pairs — times, not a count, so a writer's cache can slide the window
-- forward. Only the newest p_rate_cap are read: older ones expire first, so while any of them
-- is still in the window the agent is at its cap anyway.
--
-- p_warm_cap > 0 asks for the whole registry (every actor, balance and agent window) when it
-- has at most that many actors: the writer's cache is then warm after one read instead of
-- after one slow batch per actor it has not seen yet.
CREATE FUNCTION grid_load(
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
                     WHERE l.leg = 0 AND l.agent = a
                       AND l.executed_at > timestamptz 'epoch' + p_since_ms * interval '1 millisecond'
                     ORDER BY l.executed_at DESC
                     LIMIT p_rate_cap) e
                   GROUP BY 1) t), '[]'::jsonb) AS w
        FROM unnest(p_rate_agents) AS a
        -- Only agents are rate limited (see 0003: counting the system's window went quadratic).
        WHERE EXISTS (SELECT 1 FROM actors WHERE id = a AND kind = 'agent')) y), '{}'::jsonb)
  );
END $$;

-- Appends a decided batch: entries numbered and hashed by the client, balance deltas,
-- rejections and their alerts, and the new head — if the head is still the one the batch was
-- decided against (p_expected_version, p_first_id - 1). Called inside the slow path's
-- transaction after grid_load, or alone (one statement, its own transaction) by the fast path.
--
-- p_hashes is the entries' hashes concatenated (32 bytes each); prev_hash of entry i is the hash
-- of entry i-1, and of the first entry the head's hash — the chain's link to what it extends.
--
-- With p_check_ids (the fast path, which loaded nothing), a proposal id that was already
-- decided raises unique_violation and the writer retries the batch the slow way, which answers
-- it as a duplicate. An id applied before also collides in ledger's unique index, and one
-- rejected before in rejected_proposals'; only the cross cases are probed here.
CREATE FUNCTION grid_commit(
  p_expected_version uuid, p_new_version uuid, p_check_ids boolean, p_first_id bigint, p_at_ms bigint,
  p_proposal_id uuid[], p_leg integer[], p_kind text[], p_agent text[], p_from text[], p_to text[],
  p_resource text[], p_amount bigint[], p_validator_version text, p_proposal_hash text[],
  p_metadata text[], p_hashes bytea,
  p_bal_actor text[], p_bal_resource text[], p_bal_delta bigint[],
  p_rej_id uuid[], p_rej_agent text[], p_rej_kind text[], p_rej_proposal text[], p_rej_hash text[],
  p_rej_code text[], p_rej_message text[], p_rej_details text[]
) RETURNS void LANGUAGE plpgsql
AS $$
DECLARE
  h ledger_head%ROWTYPE;
  n integer := COALESCE(array_length(p_proposal_id, 1), 0);
BEGIN
  SELECT * INTO h FROM ledger_head FOR UPDATE;
  IF h.state_version <> p_expected_version OR h.last_id <> p_first_id - 1 THEN
    RAISE EXCEPTION 'the state changed since this batch was decided' USING ERRCODE = 'serialization_failure';
  END IF;
  IF p_at_ms < h.last_at_ms OR length(p_hashes) <> 32 * n THEN
    -- A writer bug, not a race: time never runs backwards along the chain.
    RAISE EXCEPTION 'grid_commit: inconsistent batch (at % < head %, or % hash bytes for % entries)', p_at_ms, h.last_at_ms, length(p_hashes), n;
  END IF;
  IF p_check_ids AND (
       EXISTS (SELECT 1 FROM unnest(p_proposal_id) AS x(pid) JOIN rejected_proposals r ON r.proposal_id = x.pid)
    OR EXISTS (SELECT 1 FROM unnest(p_rej_id) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid)) THEN
    RAISE EXCEPTION 'a proposal id in the batch was decided before' USING ERRCODE = 'unique_violation';
  END IF;
  IF n > 0 THEN
    INSERT INTO ledger (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
                        executed_at, proposal_hash, metadata, prev_hash, hash)
    SELECT p_first_id + o - 1, p, l, k, ag, f, t, r, a, p_validator_version,
           timestamptz 'epoch' + p_at_ms * interval '1 millisecond', ph, m::jsonb,
           CASE WHEN o = 1 THEN h.last_hash ELSE substring(p_hashes FROM (o::integer - 2) * 32 + 1 FOR 32) END,
           substring(p_hashes FROM (o::integer - 1) * 32 + 1 FOR 32)
    FROM unnest(p_proposal_id, p_leg, p_kind, p_agent, p_from, p_to, p_resource, p_amount, p_proposal_hash, p_metadata)
         WITH ORDINALITY AS x(p, l, k, ag, f, t, r, a, ph, m, o);
  END IF;
  IF COALESCE(array_length(p_bal_actor, 1), 0) > 0 THEN
    -- Sorted by the client, so concurrent transactions touch balance rows in one order.
    WITH d AS (SELECT * FROM unnest(p_bal_actor, p_bal_resource, p_bal_delta) AS d(actor, resource, delta)),
    upd AS (
      UPDATE balances b SET amount = b.amount + d.delta FROM d
      WHERE b.actor = d.actor AND b.resource = d.resource
      RETURNING b.actor, b.resource)
    INSERT INTO balances (actor, resource, amount)
    SELECT d.actor, d.resource, d.delta FROM d
    WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.actor = d.actor AND upd.resource = d.resource);
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
  UPDATE ledger_head SET last_id = p_first_id + n - 1,
                         last_hash = CASE WHEN n > 0 THEN substring(p_hashes FROM (n - 1) * 32 + 1 FOR 32) ELSE h.last_hash END,
                         last_at_ms = CASE WHEN n > 0 THEN p_at_ms ELSE h.last_at_ms END,
                         state_version = p_new_version;
END $$;
