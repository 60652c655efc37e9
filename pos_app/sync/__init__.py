"""Terminal → engine synchronisation: the journal outbox drain (and the engine event stream)."""
