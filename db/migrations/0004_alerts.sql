-- 0004: alert delivery state and human-in-the-loop webhook deliveries.
--
-- The writer records every alert in `outbox` in the same transaction as the decision (0001).
-- Delivery is the dispatcher's business (engine/alerts): one row per (alert, channel), so a slow
-- or broken channel (Linear down) never holds back another (console, Discord), and retries,
-- backoff and the final outcome are visible per channel. `outbox` itself stays insert-only.

CREATE TABLE outbox_deliveries (
  outbox_id        bigint NOT NULL REFERENCES outbox (id),
  channel          text NOT NULL,                        -- console | linear | discord | ...
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- Due time while pending. A claim moves it forward by the lease, so a dispatcher that crashed
  -- mid-send loses the claim when the lease runs out and the delivery is tried again.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- Fencing token of the current claim: a dispatcher whose lease expired cannot mark the row.
  lease_token      uuid,
  last_error       text,
  remote_id        text,                                 -- Linear issue id, Discord message id
  remote_url       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (outbox_id, channel)
);
-- The claim query: due rows of one channel, oldest first.
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (channel, next_attempt_at, outbox_id) WHERE status = 'pending';
-- The enqueue query: the highest outbox id already enqueued per channel.
CREATE INDEX outbox_deliveries_channel ON outbox_deliveries (channel, outbox_id);
-- The webhook receiver maps a Linear issue back to the alert that opened it.
CREATE INDEX outbox_deliveries_remote ON outbox_deliveries (channel, remote_id) WHERE remote_id IS NOT NULL;

-- Linear webhook deliveries already acted on (idempotency per `linear-delivery`).
CREATE TABLE hitl_deliveries (
  delivery_id  text PRIMARY KEY,
  webhook_id   text,
  event        text NOT NULL,
  issue_id     text,
  outcome      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER hitl_deliveries_append_only BEFORE UPDATE OR DELETE ON hitl_deliveries
  FOR EACH ROW EXECUTE FUNCTION grid_forbid_change();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_writer') THEN
    GRANT SELECT, INSERT, UPDATE ON outbox_deliveries TO grid_writer;
    GRANT SELECT, INSERT ON hitl_deliveries TO grid_writer;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader') THEN
    GRANT SELECT ON outbox_deliveries, hitl_deliveries TO grid_reader;
  END IF;
END $$;
