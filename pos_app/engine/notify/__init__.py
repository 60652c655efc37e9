"""Gateway notifications: raw body → size check → verify + decrypt → dedupe + apply → acknowledge.

DESIGN.md §6/§7: the body is refused above a size limit *before* anything parses it (``pipeline``);
the provider verifies the signature over the raw bytes (and the time window) and decrypts; then ONE
transaction writes the verified notification to the durable inbox (unique on channel + event id),
applies it through the payment state machine (compare-and-set, status event) and marks the inbox row
applied (``apply``). Only after that transaction committed is the notification acknowledged. On
SQLite the notifications arriving together share one commit (``group_commit``); on PostgreSQL each
is its own transaction (``writer``). A duplicate finds its inbox row already applied and changes
nothing; if the apply fails, the inbox row alone is recorded un-applied, the gateway gets an error
(and sends again), and the resolver applies the row later (``records.recorded_unapplied``).
"""
