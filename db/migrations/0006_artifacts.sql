-- 0006: the artifact economy — content storage, caches of artifact state, the invocation
-- registry, and the writer's loader for artifact proposals.
--
-- The ledger stays the source of truth: artifact_write / artifact_delete / escrow / invoke entries
-- carry everything needed to rebuild `artifacts`, `artifact_listings` and `invocations` by replay
-- (db/artifact-replay.ts), exactly like `balances`. Only `artifact_blobs` is not derived: it holds
-- the content the ledger names by sha256, and verifies itself (CHECK below), so a blob cannot be
-- altered without failing its own hash.

-- Content, addressed by its sha256. Written before the artifact_write that names it (so a proposal
-- stays small whatever the size of the code); immutable; an unreferenced blob may be pruned.
CREATE TABLE artifact_blobs (
  hash        text PRIMARY KEY,
  content     text NOT NULL,
  bytes       integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (hash = encode(sha256(convert_to(content, 'UTF8')), 'hex')),
  CHECK (bytes = octet_length(convert_to(content, 'UTF8'))),
  CHECK (bytes <= 65536)                                -- LIMITS.sandbox.maxCodeBytes / LIMITS.artifacts.maxDataBytes
);
CREATE TRIGGER artifact_blobs_immutable BEFORE UPDATE ON artifact_blobs
  FOR EACH ROW EXECUTE FUNCTION grid_forbid_change();

-- Cache: artifacts (a deleted one stays as a tombstone: its id is never reused).
CREATE TABLE artifacts (
  id             text PRIMARY KEY,
  owner          text NOT NULL,                         -- the escrow actor while listed
  created_by     text NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('data', 'code')),
  content_hash   text NOT NULL,
  bytes          integer NOT NULL,
  interface      jsonb,
  invoke_price   bigint NOT NULL DEFAULT 0 CHECK (invoke_price >= 0),
  access         jsonb NOT NULL DEFAULT '{"mode":"public"}'::jsonb,
  description    text,
  rev            integer NOT NULL CHECK (rev >= 1),
  deleted        boolean NOT NULL DEFAULT false,
  listing_id     uuid,
  created_entry  bigint NOT NULL,
  updated_entry  bigint NOT NULL
);
CREATE INDEX artifacts_owner ON artifacts (owner) WHERE NOT deleted;
CREATE INDEX artifacts_content ON artifacts (content_hash);

-- Cache: escrow listings. listing_id is the escrow_deposit's proposal_id.
CREATE TABLE artifact_listings (
  listing_id     uuid PRIMARY KEY,
  artifact_id    text NOT NULL,
  seller         text NOT NULL,
  escrow         text NOT NULL,
  price          bigint NOT NULL CHECK (price > 0),
  test_artifact  text,
  test_method    text NOT NULL,
  test_rev       integer,                               -- revision of the test pinned by the listing
  rev            integer NOT NULL,
  status         text NOT NULL CHECK (status IN ('open', 'sold', 'cancelled')),
  buyer          text,
  opened_entry   bigint NOT NULL,
  closed_entry   bigint
);
CREATE INDEX artifact_listings_open ON artifact_listings (opened_entry) WHERE status = 'open';

-- Cache: the invocation registry (gap 27). One row per call of a recorded run, top-level and
-- nested, success or failure; `caller` → `artifact_id` is the dependency edge (invoke_edges).
CREATE TABLE invocations (
  entry_id        bigint NOT NULL,                      -- the invoke record's ledger id
  call_id         integer NOT NULL,
  parent_call_id  integer,
  proposal_id     uuid NOT NULL,
  artifact_id     text NOT NULL,
  method          text NOT NULL,
  caller          text NOT NULL,                        -- the invoker at the top, else the calling artifact
  invoker         text NOT NULL,                        -- principal of the whole run
  owner           text,                                 -- who earned the price (NULL: genesis / not loaded)
  type            text NOT NULL CHECK (type IN ('INVOKE_SUCCESS', 'INVOKE_FAILURE')),
  error_code      text,
  depth           integer NOT NULL,
  at_ms           bigint NOT NULL,
  PRIMARY KEY (entry_id, call_id)
);
CREATE INDEX invocations_artifact ON invocations (artifact_id, type);
CREATE INDEX invocations_invoker ON invocations (invoker, at_ms);
CREATE INDEX invocations_caller ON invocations (caller, artifact_id);

-- Rate limits of principals: a run recorded by the engine (proposer `system`) is an action of
-- its invoker; the writer counts these rows next to the principal's own proposals.
CREATE INDEX ledger_principal_time ON ledger ((metadata->>'principal'), executed_at)
  WHERE leg = 0 AND metadata ? 'principal';

-- The slice of artifact state a batch needs, read after grid_load (0003) has locked the batch's
-- actors. Artifacts are not actor rows, so they are locked here, per id and in id order, with
-- transaction-scoped advisory locks (they also cover ids that do not exist yet, so two writers
-- cannot both create one). Order is always actors, then artifacts: no deadlock between writers.
CREATE FUNCTION grid_load_artifacts(
  p_artifacts text[], p_listings uuid[], p_blobs text[], p_owners text[],
  p_principals text[], p_since_ms bigint, p_rate_cap integer
) RETURNS jsonb LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  v_ids text[];
  v_id text;
BEGIN
  v_ids := p_artifacts
    || COALESCE((SELECT array_agg(artifact_id) FROM artifact_listings WHERE listing_id = ANY(p_listings)), '{}')
    || COALESCE((SELECT array_agg(test_artifact) FROM artifact_listings WHERE listing_id = ANY(p_listings) AND test_artifact IS NOT NULL), '{}');
  FOR v_id IN SELECT DISTINCT x FROM unnest(v_ids) AS x ORDER BY x LOOP
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || ':artifact:' || v_id));
  END LOOP;
  RETURN jsonb_build_object(
    'artifacts', COALESCE((
      SELECT jsonb_agg(jsonb_build_object('id', id, 'owner', owner, 'created_by', created_by, 'kind', kind,
        'content_hash', content_hash, 'bytes', bytes, 'interface', interface, 'invoke_price', invoke_price::text,
        'access', access, 'description', description, 'rev', rev, 'deleted', deleted, 'listing', listing_id))
      FROM artifacts WHERE id = ANY(v_ids)), '[]'::jsonb),
    'listings', COALESCE((
      SELECT jsonb_agg(jsonb_build_object('listing_id', listing_id, 'artifact_id', artifact_id, 'seller', seller,
        'escrow', escrow, 'price', price::text, 'test_artifact', test_artifact, 'test_method', test_method,
        'test_rev', test_rev, 'rev', rev, 'status', status, 'buyer', buyer))
      FROM artifact_listings
      WHERE listing_id = ANY(p_listings)
         OR listing_id IN (SELECT a.listing_id FROM artifacts a WHERE a.id = ANY(v_ids) AND a.listing_id IS NOT NULL)), '[]'::jsonb),
    'blobs', COALESCE((SELECT jsonb_agg(jsonb_build_array(hash, bytes)) FROM artifact_blobs WHERE hash = ANY(p_blobs)), '[]'::jsonb),
    'disk', COALESCE((
      SELECT jsonb_object_agg(o, (SELECT COALESCE(sum(a.bytes), 0) FROM artifacts a WHERE a.owner = o AND NOT a.deleted))
      FROM (SELECT DISTINCT o FROM unnest(p_owners) AS o) y), '{}'::jsonb),
    'actions', COALESCE((
      SELECT jsonb_object_agg(a, n) FROM (
        SELECT a, (SELECT count(*) FROM (
                     SELECT 1 FROM ledger l
                     WHERE l.leg = 0 AND l.metadata ? 'principal' AND l.metadata->>'principal' = a
                       AND l.executed_at > timestamptz 'epoch' + p_since_ms * interval '1 millisecond'
                     LIMIT p_rate_cap) c) AS n
        FROM (SELECT DISTINCT a FROM unnest(p_principals) AS a) d) y), '{}'::jsonb)
  );
END $$;

-- Read models (no content): what agents, dashboards and the Governor look at.
CREATE VIEW artifact_catalog AS
  SELECT a.id, a.owner, a.created_by, a.kind, a.content_hash, a.bytes, a.interface, a.invoke_price, a.access,
         a.description, a.rev, a.deleted, a.listing_id, a.created_entry, a.updated_entry,
         (SELECT count(*) FROM invocations i WHERE i.artifact_id = a.id) AS invoke_count,
         (SELECT count(*) FROM invocations i WHERE i.artifact_id = a.id AND i.type = 'INVOKE_SUCCESS') AS success_count
  FROM artifacts a;

CREATE VIEW escrow_listings AS
  SELECT l.listing_id::text AS listing_id, l.artifact_id, l.seller, l.escrow, l.price, l.test_artifact, l.test_method,
         l.test_rev, l.rev, l.status, l.buyer, l.opened_entry, l.closed_entry
  FROM artifact_listings l;

-- The dependency DAG (000 seed, "Artifact Dependency Graph"): parent → child with usage counts.
CREATE VIEW invoke_edges AS
  SELECT caller AS parent, artifact_id AS child, count(*) AS calls,
         count(*) FILTER (WHERE type = 'INVOKE_SUCCESS') AS successes,
         min(at_ms) AS first_at_ms, max(at_ms) AS last_at_ms
  FROM invocations GROUP BY caller, artifact_id;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_writer') THEN
    GRANT SELECT, INSERT, DELETE ON artifact_blobs TO grid_writer;
    GRANT SELECT, INSERT, UPDATE, DELETE ON artifacts, artifact_listings, invocations TO grid_writer;
    GRANT SELECT ON artifact_catalog, escrow_listings, invoke_edges TO grid_writer;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader') THEN
    GRANT SELECT ON artifact_blobs, artifacts, artifact_listings, invocations,
                    artifact_catalog, escrow_listings, invoke_edges TO grid_reader;
  END IF;
END $$;
