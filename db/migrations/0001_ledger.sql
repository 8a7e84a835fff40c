-- 0001: the ledger and its caches.
--
-- The ledger is append-only and hash-chained: each row's hash is sha256(prev_hash || canonical
-- row text), computed by the writer (db/hash.ts) and re-checked by verify. Everything else in this
-- file except the registry (actors, resources) and the audit logs is a cache that replay rebuilds
-- from row 0: balances, offers, policies, breaker, ledger_head.
--
-- Names are unqualified: the migrator runs with search_path set to the target schema, so the
-- same file builds any schema (each test gets its own).

CREATE TABLE actors (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('agent','human','system','governor','treasury','reserve','escrow')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resources (
  id    text PRIMARY KEY,
  unit  text NOT NULL DEFAULT ''
);

-- One row per leg. A proposal yields legs 0..n-1 (a taxed transfer: transfer + tax).
-- No foreign keys to actors/resources: the validator has already checked every id under the
-- writer's lock, and FK triggers would double the cost of each insert on the hot path.
CREATE TABLE ledger (
  id                 bigint PRIMARY KEY,              -- gap-free, assigned under the head lock
  proposal_id        uuid NOT NULL,
  leg                integer NOT NULL CHECK (leg >= 0),
  kind               text NOT NULL,
  agent              text NOT NULL,                   -- the principal who proposed it
  from_actor         text,
  to_actor           text,
  resource           text,
  amount             bigint CHECK (amount > 0),
  validator_version  text NOT NULL,
  executed_at        timestamptz NOT NULL,
  proposal_hash      text NOT NULL,                   -- sha256 of the canonical proposal
  metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash          bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash               bytea NOT NULL CHECK (length(hash) = 32),
  UNIQUE (proposal_id, leg),
  CHECK ((amount IS NULL) = (resource IS NULL)),
  CHECK (amount IS NULL OR from_actor IS NOT NULL OR to_actor IS NOT NULL)
);
-- Rate-limit windows: applied proposals (leg 0) per agent over time.
CREATE INDEX ledger_agent_time ON ledger (agent, executed_at) WHERE leg = 0;

-- Decisions that were refused. Nothing else is written for them.
CREATE TABLE rejected_proposals (
  id                 bigserial PRIMARY KEY,
  proposal_id        uuid UNIQUE,                     -- NULL when the input had no usable id
  agent              text,
  kind               text,
  proposal           jsonb NOT NULL,
  proposal_hash      text NOT NULL,
  code               text NOT NULL,
  message            text NOT NULL,
  details            jsonb NOT NULL DEFAULT '{}'::jsonb,
  validator_version  text NOT NULL,
  rejected_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_proposals_code ON rejected_proposals (code, id);

-- Cache: balances per actor and resource. world_state (a view) is what readers use.
CREATE TABLE balances (
  actor     text NOT NULL,
  resource  text NOT NULL,
  amount    bigint NOT NULL,
  PRIMARY KEY (actor, resource)
);

-- Cache: the chain head. One row; every writer locks it, which is what keeps the chain single.
CREATE TABLE ledger_head (
  one          boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_id      bigint NOT NULL,
  last_hash    bytea NOT NULL,
  last_at_ms   bigint NOT NULL
);
INSERT INTO ledger_head (last_id, last_hash, last_at_ms) VALUES (0, decode(repeat('00', 32), 'hex'), 0);

-- Cache: policy history (one row per version; version 1 is the built-in default).
CREATE TABLE policies (
  version   integer PRIMARY KEY,
  policy    jsonb NOT NULL,
  entry_id  bigint,                                   -- the policy_set entry; NULL for version 1
  set_by    text,
  set_at    timestamptz NOT NULL DEFAULT now()
);

-- Cache: the circuit breaker. One row.
CREATE TABLE breaker (
  one        boolean PRIMARY KEY DEFAULT true CHECK (one),
  open       boolean NOT NULL DEFAULT false,
  reason     text NOT NULL DEFAULT 'genesis',
  set_by     text,
  entry_id   bigint
);
INSERT INTO breaker DEFAULT VALUES;

-- Cache: offers awaiting acceptance.
CREATE TABLE offers (
  offer_id      uuid PRIMARY KEY,
  maker         text NOT NULL,
  give_resource text NOT NULL,
  give_amount   bigint NOT NULL,
  want_resource text NOT NULL,
  want_amount   bigint NOT NULL,
  counterparty  text,
  expires_at_ms bigint,
  status        text NOT NULL CHECK (status IN ('open','accepted','cancelled'))
);

-- Checkpoints: the folded state at ledger id N plus the chain head there, so replay can start
-- from N. Trusted only if its own checksum and the chain from N onward verify.
CREATE TABLE checkpoints (
  id          bigserial PRIMARY KEY,
  entry_id    bigint NOT NULL,
  head_hash   bytea NOT NULL,
  state       jsonb NOT NULL,                         -- balances, policy, breaker, offers
  checksum    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who did what outside proposals (registry changes, replays that rewrote the cache, ...).
CREATE TABLE admin_audit (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Alerts to deliver, written in the same transaction as the decision they report, so an alert
-- can never be lost and can never block the ledger. The dispatcher owns delivery state.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  topic       text NOT NULL,                          -- rejection | breaker
  key         text NOT NULL,                          -- dedupe key, e.g. the proposal_id
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (topic, key)
);

-- Append-only, enforced by the database itself (and by privileges below).
CREATE FUNCTION grid_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = 'the ledger is the source of truth; append a correcting proposal instead';
END $$;

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION grid_forbid_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION grid_forbid_change();
CREATE TRIGGER rejected_append_only BEFORE UPDATE OR DELETE ON rejected_proposals
  FOR EACH ROW EXECUTE FUNCTION grid_forbid_change();
CREATE TRIGGER rejected_no_truncate BEFORE TRUNCATE ON rejected_proposals
  FOR EACH STATEMENT EXECUTE FUNCTION grid_forbid_change();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
  FOR EACH ROW EXECUTE FUNCTION grid_forbid_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON admin_audit
  FOR EACH STATEMENT EXECUTE FUNCTION grid_forbid_change();

-- Read models. Readers (the bridge, dashboards) use these, never the tables.
CREATE VIEW world_state AS
  SELECT b.actor, a.kind AS actor_kind, b.resource, b.amount
  FROM balances b LEFT JOIN actors a ON a.id = b.actor;

CREATE VIEW ledger_entries AS
  SELECT id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount,
         validator_version, executed_at, metadata, encode(prev_hash, 'hex') AS prev_hash,
         encode(hash, 'hex') AS hash
  FROM ledger;
