-- Writers woke the sequencers with a `SELECT pg_notify(...)` of their own before each
-- commit: one more round trip on every write that carries an event. A statement-level
-- trigger sends the same notification from inside the insert. Like any NOTIFY it is
-- delivered only if the transaction commits, and repeated ones within a transaction are
-- folded into one.
CREATE FUNCTION tidings_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tidings_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION tidings_notify_events();
