-- 0003: the writer's two server-side steps. Why functions: the writer's throughput is set by
-- round trips and by how long the chain head stays locked, not by SQL (FIELD-NOTES: ~9k/s
-- interactive vs ~14k/s server-side at one client; the head lock cost 64–73 % at 16 clients).
--
-- A batch is: BEGIN; grid_load (locks the actors it names, returns the state the law needs);
-- the law decides in the client; grid_append (locks the chain head, numbers and hashes the
-- entries, appends them, applies balance deltas, records rejections and alerts); COMMIT.
-- The head is locked only for grid_append and the commit, so validation of one batch overlaps
-- the append of another.

CREATE FUNCTION grid_load(
  p_ids uuid[], p_actors text[], p_holders text[], p_offers uuid[],
  p_rate_agents text[], p_since_ms bigint, p_rate_cap integer
) RETURNS jsonb LANGUAGE plpgsql
-- Point lookups only. With generic plans and statistics taken while the ledger was small, the
-- planner otherwise picks hash or merge joins, or nested loops over sequential scans, that read
-- the whole ledger (measured: the cost of a 1000-proposal batch grew with every batch, to
-- ~3 s at 150k rows). Every lookup here has an index; forbid the rest.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  v_actors text[];
BEGIN
  v_actors := p_actors
    || COALESCE((SELECT array_agg(maker) FROM offers WHERE offer_id = ANY(p_offers)), '{}')
    || COALESCE((SELECT array_agg(DISTINCT b.actor) FROM balances b WHERE b.resource = ANY(p_holders) AND b.amount > 0), '{}');
  -- One lock per actor, taken in id order (no deadlocks), held to commit: two batches that
  -- share an actor are decided one after the other; batches on disjoint actors in parallel.
  PERFORM 1 FROM actors WHERE id = ANY(v_actors) ORDER BY id FOR NO KEY UPDATE;
  RETURN jsonb_build_object(
    'policy', (SELECT policy FROM policies ORDER BY version DESC LIMIT 1),
    'breaker', (SELECT jsonb_build_object('open', open, 'reason', reason, 'by', set_by) FROM breaker),
    'decided', COALESCE((
      SELECT jsonb_agg(d) FROM (
        -- No "leg = 0" in the lookup itself: it would let the planner (with young statistics)
        -- walk the partial index ledger_agent_time over every proposal instead of probing the
        -- unique (proposal_id, leg) index — measured growing with the ledger. OFFSET 0 keeps the
        -- filter outside.
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
      SELECT jsonb_object_agg(a, n) FROM (
        SELECT a, (SELECT count(*) FROM (
                     SELECT 1 FROM ledger l
                     WHERE l.leg = 0 AND l.agent = a
                       AND l.executed_at > timestamptz 'epoch' + p_since_ms * interval '1 millisecond'
                     LIMIT p_rate_cap) c) AS n
        FROM unnest(p_rate_agents) AS a
        -- Only agents are rate limited; counting the system's or a human's window would cost a
        -- scan of every entry they made in it (measured: genesis of 100k mints went quadratic).
        WHERE EXISTS (SELECT 1 FROM actors WHERE id = a AND kind = 'agent')) y), '{}'::jsonb)
  );
END $$;


-- Appends decided entries and rejections under the chain-head lock.
--
-- Hash of entry i: sha256(prev_hash || utf8(id || '|' || at_ms || '|' || body_i)), where body_i
-- is the canonical text of every other stored field, built by the client (db/hash.ts), which
-- also re-computes it in verify. Computing the hash here lets the head be locked only now.
--
-- Raises serialization_failure (the client retries the whole batch) when what the batch was
-- decided against changed meanwhile: the policy version, the breaker state, or an id that the
-- batch believed undecided was decided by a batch that committed first.
CREATE FUNCTION grid_append(
  p_policy_version integer, p_breaker_open boolean, p_now_ms bigint,
  p_proposal_id uuid[], p_leg integer[], p_kind text[], p_agent text[], p_from text[], p_to text[],
  p_resource text[], p_amount bigint[], p_validator_version text, p_proposal_hash text[],
  p_metadata text[], p_body text[],
  p_bal_actor text[], p_bal_resource text[], p_bal_delta bigint[],
  p_rej_id uuid[], p_rej_agent text[], p_rej_kind text[], p_rej_proposal text[], p_rej_hash text[],
  p_rej_code text[], p_rej_message text[], p_rej_details text[]
) RETURNS jsonb LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  h ledger_head%ROWTYPE;
  v_at bigint;
  v_id bigint;
  v_prev bytea;
  n integer := COALESCE(array_length(p_proposal_id, 1), 0);
  -- Preallocated: element assignment is O(1), appending with || would copy (O(n²) per batch).
  v_ids bigint[] := array_fill(0::bigint, ARRAY[n]);
  v_prevs bytea[] := array_fill(''::bytea, ARRAY[n]);
  v_hashes bytea[] := array_fill(''::bytea, ARRAY[n]);
BEGIN
  -- The chain head: the single serialization point of all writers. The chain cannot fork.
  SELECT * INTO h FROM ledger_head FOR UPDATE;
  IF COALESCE((SELECT max(version) FROM policies), 1) IS DISTINCT FROM p_policy_version
     OR (SELECT open FROM breaker) IS DISTINCT FROM p_breaker_open THEN
    RAISE EXCEPTION 'policy or breaker changed while the batch was decided' USING ERRCODE = 'serialization_failure';
  END IF;
  -- (Any leg will do, and leaving leg out keeps the lookup on the unique index; see grid_load.)
  IF EXISTS (SELECT 1 FROM unnest(p_proposal_id || p_rej_id) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid)
     OR EXISTS (SELECT 1 FROM unnest(p_proposal_id || p_rej_id) AS x(pid) JOIN rejected_proposals r ON r.proposal_id = x.pid) THEN
    RAISE EXCEPTION 'a proposal id in the batch was decided concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
  -- Time never runs backwards along the chain, even when writers' clocks disagree.
  v_at := GREATEST(p_now_ms, h.last_at_ms);
  v_id := h.last_id;
  v_prev := h.last_hash;
  FOR i IN 1..n LOOP
    v_id := v_id + 1;
    v_ids[i] := v_id;
    v_prevs[i] := v_prev;
    v_prev := sha256(v_prev || convert_to(v_id::text || '|' || v_at::text || '|' || p_body[i], 'UTF8'));
    v_hashes[i] := v_prev;
  END LOOP;
  IF n > 0 THEN
    INSERT INTO ledger (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
                        executed_at, proposal_hash, metadata, prev_hash, hash)
    SELECT i, p, l, k, ag, f, t, r, a, p_validator_version,
           timestamptz 'epoch' + v_at * interval '1 millisecond', ph, m::jsonb, pv, hh
    FROM unnest(v_ids, p_proposal_id, p_leg, p_kind, p_agent, p_from, p_to, p_resource, p_amount,
                p_proposal_hash, p_metadata, v_prevs, v_hashes) AS x(i, p, l, k, ag, f, t, r, a, ph, m, pv, hh);
    INSERT INTO balances (actor, resource, amount)
    SELECT * FROM unnest(p_bal_actor, p_bal_resource, p_bal_delta)
    ON CONFLICT (actor, resource) DO UPDATE SET amount = balances.amount + EXCLUDED.amount;
    UPDATE ledger_head SET last_id = v_id, last_hash = v_prev, last_at_ms = v_at;
  END IF;
  IF COALESCE(array_length(p_rej_code, 1), 0) > 0 THEN
    WITH rej AS (
      INSERT INTO rejected_proposals (proposal_id, agent, kind, proposal, proposal_hash, code, message, details, validator_version, rejected_at)
      SELECT p, ag, k, pr::jsonb, ph, c, msg, d::jsonb, p_validator_version, timestamptz 'epoch' + v_at * interval '1 millisecond'
      FROM unnest(p_rej_id, p_rej_agent, p_rej_kind, p_rej_proposal, p_rej_hash, p_rej_code, p_rej_message, p_rej_details)
        AS x(p, ag, k, pr, ph, c, msg, d)
      RETURNING id, proposal_id, agent, kind, proposal, code, message, details, validator_version, rejected_at
    )
    INSERT INTO outbox (topic, key, payload)
    SELECT 'rejection', COALESCE(proposal_id::text, 'rejection:' || id), to_jsonb(rej) FROM rej
    ON CONFLICT (topic, key) DO NOTHING;
  END IF;
  RETURN jsonb_build_object('first_id', (h.last_id + 1)::text, 'at_ms', v_at::text,
                            'hashes', (SELECT COALESCE(jsonb_agg(encode(x, 'hex')), '[]'::jsonb) FROM unnest(v_hashes) AS x));
END $$;
