-- The event queue and the delivery log.
--
-- intercom-ingest inserts one `events` row per accepted PostHog event.
-- intercom-worker claims due rows, decides whether to send them, sends them to
-- Intercom's POST /events and records every attempt in `delivery_attempts`.
-- intercom-queue reads both tables and moves rows between states on request.
-- All times named *_ms are Unix milliseconds (UTC); `created_at` is Unix
-- seconds because that is what Intercom stores and deduplicates on.
--
-- The life of a row, by `state`:
--   pending    Waiting to be claimed once `next_attempt_at_ms` has passed. Ingest
--              makes new rows due at once; a retry makes them due after backoff.
--   leased     Claimed by the worker named in `lease_owner` until
--              `lease_expires_at_ms`. That worker moves it on to delivered,
--              skipped, failed, or back to pending for a retry. When the lease
--              expires first (the worker died or hung), the next claim puts the
--              row back to pending and then claims it again.
--   delivered  Intercom returned 202. Final; pruned after the retention period.
--   skipped    A filter decided not to send it (not a triggering event, no valid
--              email, ignored domain) or an operator skipped it; `reason` says
--              which. Final; pruned after the retention period.
--   failed     A permanent error, or retries used up; `reason` holds the last
--              error. Kept until an operator retries, skips or purges it.
--
-- Transitions:
--   pending   -> leased                               worker claims it
--   leased    -> delivered | skipped | failed         worker finishes it
--   leased    -> pending                              retry scheduled, lease expired,
--                                                     or released at shutdown
--   failed    -> pending                              intercom-queue retry
--   delivered -> pending                              intercom-queue replay
--   pending | failed -> skipped                       intercom-queue skip / cancel

CREATE TABLE events (
  id                  INTEGER PRIMARY KEY,
  -- The event's uuid as the client sent it (or one ingest generated). Unique,
  -- so a client that resends a batch after a timeout adds no duplicate row.
  uuid                TEXT    NOT NULL UNIQUE,
  event               TEXT    NOT NULL,   -- event name, such as "$identify"
  distinct_id         TEXT    NOT NULL,
  project_token       TEXT,               -- NULL when the request carried none
  payload             TEXT    NOT NULL,   -- the whole event object as JSON
  person              TEXT,               -- webhook person object as JSON, or NULL
  received_at_ms      INTEGER NOT NULL,
  -- Unix seconds, computed once at ingest from the event's timestamp and never
  -- recomputed: Intercom stores one event per (contact, name, created_at), so
  -- every retry and replay must send the same value.
  created_at          INTEGER NOT NULL,
  state               TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'leased', 'delivered', 'skipped', 'failed')),
  -- Attempts that count towards the retry schedule. Rate-limited (429)
  -- attempts and attempts cut short by a pause for a bad token do not count.
  attempts            INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms  INTEGER NOT NULL,
  lease_expires_at_ms INTEGER,            -- set only while leased
  lease_owner         TEXT,               -- worker id, set only while leased
  email               TEXT,               -- the email the worker resolved, once it has
  -- Why the row is in its state: the filter that skipped it, the error that
  -- failed it, or the last error before a retry. NULL for a plain delivery.
  reason              TEXT,
  updated_at_ms       INTEGER NOT NULL
);

-- Claiming reads the oldest due pending rows: a range scan over this partial
-- index, which contains pending rows only, so its cost does not grow with the
-- number of delivered rows kept for the retention period.
CREATE INDEX events_pending_due ON events (next_attempt_at_ms) WHERE state = 'pending';

-- Finding expired leases, a range scan over leased rows only.
CREATE INDEX events_lease_expiry ON events (lease_expires_at_ms) WHERE state = 'leased';

-- Pruning finished rows and listing failed ones by age.
CREATE INDEX events_finished ON events (updated_at_ms) WHERE state IN ('delivered', 'skipped');
CREATE INDEX events_failed ON events (updated_at_ms) WHERE state = 'failed';

-- Listing by arrival time.
CREATE INDEX events_received ON events (received_at_ms);

-- One row per request sent to Intercom (or per network failure), whatever the
-- outcome. Deleted with its event.
CREATE TABLE delivery_attempts (
  id                  INTEGER PRIMARY KEY,
  event_id            INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  attempt             INTEGER NOT NULL,   -- 1 for the event's first request, and so on
  started_at_ms       INTEGER NOT NULL,
  duration_ms         INTEGER NOT NULL,
  -- What the worker concluded from the response:
  --   delivered        202
  --   retry            408, 5xx, network error or timeout; retried after backoff
  --   rate_limited     429; retried after the rate-limit window, not counted
  --   paused           401, 403 or a token_* code; delivery paused for all events
  --   contact_missing  404 not_found; retried within the contact wait window
  --   failed           any other answer, or retries used up
  outcome             TEXT    NOT NULL
                      CHECK (outcome IN ('delivered', 'retry', 'rate_limited', 'paused',
                                         'contact_missing', 'failed')),
  http_status         INTEGER,            -- NULL when no response arrived
  identifier          TEXT,               -- how the contact was addressed, e.g. "email"
  intercom_request_id TEXT,
  intercom_error_code TEXT,
  intercom_error_message TEXT,
  error               TEXT,               -- short text for a network failure
  -- Changes made to the metadata to meet Intercom's rules (keys dropped,
  -- values flattened or cut), as a short human-readable list.
  notes               TEXT
);

CREATE INDEX delivery_attempts_event ON delivery_attempts (event_id, attempt);
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at_ms);

-- Decisions about an event that are not delivery attempts: a filter skipping
-- it, a lease found expired, an operator retrying, skipping or replaying it.
CREATE TABLE event_history (
  id       INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  at_ms    INTEGER NOT NULL,
  action   TEXT    NOT NULL,   -- such as "skipped", "lease_expired", "retried", "replayed"
  detail   TEXT
);

CREATE INDEX event_history_event ON event_history (event_id);
