-- 0002: privileges. The writer role may INSERT into the append-only tables but never UPDATE,
-- DELETE or TRUNCATE them; the reader role (the bridge) may only SELECT.
-- Roles are cluster-wide; creating them needs CREATEROLE. Where the migrating user lacks it
-- (a managed database), the roles must be created by an administrator, and this migration only
-- grants what it can — it never fails the migration over a missing privilege to create roles.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_writer') THEN
    BEGIN
      CREATE ROLE grid_writer NOLOGIN;
    EXCEPTION WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
      RAISE NOTICE 'grid_writer role not created: %', SQLERRM;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader') THEN
    BEGIN
      CREATE ROLE grid_reader NOLOGIN;
    EXCEPTION WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
      RAISE NOTICE 'grid_reader role not created: %', SQLERRM;
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_writer') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO grid_writer', current_schema());
    REVOKE ALL ON ledger, rejected_proposals, admin_audit FROM PUBLIC;
    GRANT SELECT, INSERT ON ledger, rejected_proposals, admin_audit, outbox, checkpoints TO grid_writer;
    GRANT SELECT, INSERT, UPDATE, DELETE ON balances, ledger_head, policies, breaker, offers TO grid_writer;
    GRANT SELECT ON actors, resources, world_state, ledger_entries TO grid_writer;
    -- The writer locks actor rows (SELECT … FOR NO KEY UPDATE), which Postgres allows only with
    -- an UPDATE privilege; a single harmless column is enough and leaves ids and kinds immutable.
    GRANT UPDATE (created_at) ON actors TO grid_writer;
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO grid_writer', current_schema());
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO grid_reader', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO grid_reader', current_schema());
  END IF;
END $$;
