-- Durable events: a state change writes its events here in its own transaction, and the
-- dispatcher hands them to subscribers after commit. A row is deleted in the transaction
-- that writes its subscribers' effects, so an event is either pending here or done.
-- `lease_until` keeps other dispatchers off a row while one works on it; a row whose lease
-- ran out (its node died) is taken up again.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,
    project_id  INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    lease_until TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_lease ON outbox (lease_until, id);
