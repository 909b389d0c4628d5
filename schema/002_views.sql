-- Views for reading the queue with the sqlite3 shell. Each answers a usual
-- operator question in one SELECT, with times as UTC text
-- ('YYYY-MM-DD HH:MM:SS'). They only read, so they are safe to query while
-- ingest and the worker run. The README section "Inspect the queue with
-- sqlite3" shows the queries; a test runs them against a real database.
--
-- "Now" is strftime('%s', 'now') rather than unixepoch(), which needs SQLite
-- 3.38, so the views also work in older sqlite3 shells.

-- One row per state that has events: how many, the oldest by arrival, and for
-- pending rows the earliest due time and how long that row has been due.
CREATE VIEW queue_summary AS
SELECT state,
       count(*) AS events,
       datetime(min(received_at_ms) / 1000, 'unixepoch') AS oldest_received,
       CASE WHEN state = 'pending'
            THEN datetime(min(next_attempt_at_ms) / 1000, 'unixepoch') END AS next_due,
       CASE WHEN state = 'pending'
            THEN max(0, CAST(strftime('%s', 'now') AS INTEGER) - min(next_attempt_at_ms) / 1000)
            END AS overdue_seconds
FROM events
GROUP BY state;

-- Failed events with the error that failed them and what the last request
-- got back from Intercom.
CREATE VIEW failed_events AS
SELECT e.id,
       e.uuid,
       e.event,
       e.distinct_id,
       e.email,
       e.attempts,
       datetime(e.received_at_ms / 1000, 'unixepoch') AS received,
       datetime(e.updated_at_ms / 1000, 'unixepoch') AS failed_at,
       e.reason AS last_error,
       a.outcome AS last_outcome,
       a.http_status AS last_http_status,
       a.intercom_error_code AS last_error_code,
       coalesce(a.intercom_error_message, a.error) AS last_error_message
FROM events AS e
LEFT JOIN delivery_attempts AS a
       ON a.id = (SELECT max(id) FROM delivery_attempts WHERE event_id = e.id)
WHERE e.state = 'failed';

-- Every request sent to Intercom, newest first, with its outcome and duration.
CREATE VIEW recent_attempts AS
SELECT a.id AS attempt_id,
       a.event_id,
       e.event,
       e.email,
       a.attempt,
       datetime(a.started_at_ms / 1000, 'unixepoch') AS started,
       a.outcome,
       a.http_status,
       a.duration_ms,
       a.intercom_error_code,
       coalesce(a.intercom_error_message, a.error) AS error_message
FROM delivery_attempts AS a
JOIN events AS e ON e.id = a.event_id
ORDER BY a.started_at_ms DESC, a.id DESC;

-- Skipped events with the reason (a filter or an operator) and the last
-- decision recorded in event_history.
CREATE VIEW skipped_events AS
SELECT e.id,
       e.uuid,
       e.event,
       e.distinct_id,
       e.email,
       datetime(e.updated_at_ms / 1000, 'unixepoch') AS skipped_at,
       e.reason,
       (SELECT h.action || coalesce(': ' || h.detail, '')
        FROM event_history AS h
        WHERE h.event_id = e.id
        ORDER BY h.id DESC
        LIMIT 1) AS last_decision
FROM events AS e
WHERE e.state = 'skipped';

-- How many events each skip reason accounts for, most common first.
CREATE VIEW skip_reasons AS
SELECT coalesce(reason, '(none)') AS reason, count(*) AS events
FROM events
WHERE state = 'skipped'
GROUP BY reason
ORDER BY events DESC;

-- Everything that happened to each event: decisions from event_history and
-- requests from delivery_attempts. Filter on event_id and order by at_ms.
CREATE VIEW event_timeline AS
SELECT event_id,
       at_ms,
       datetime(at_ms / 1000, 'unixepoch') AS at,
       'decision' AS kind,
       action AS what,
       detail
FROM event_history
UNION ALL
SELECT event_id,
       started_at_ms,
       datetime(started_at_ms / 1000, 'unixepoch'),
       'attempt',
       outcome,
       trim(coalesce('HTTP ' || http_status, 'no answer') ||
            coalesce(' ' || intercom_error_code, '') ||
            coalesce(' ' || coalesce(intercom_error_message, error), '') ||
            ' in ' || duration_ms || ' ms')
FROM delivery_attempts;
