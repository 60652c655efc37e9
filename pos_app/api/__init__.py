"""The engine's HTTP contract, shared by both sides: request/response schemas, terminal request
signing, and the terminal's typed client. Imports ``pos_app.domain`` only, so the till can use it
without ever importing the engine (and its keys)."""
