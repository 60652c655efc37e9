"""`pos demo chain`: a demo profile of a small chain (two stores, two tills each) with a week of history
made through the real flows — the real engine and sandbox on loopback sockets, the real till cores
with their own journals — driven on a simulated clock so that past days look like past days.

Like ``cli``, this package composes every part (engine, sandbox, terminal, journal); nothing imports it
but ``pos_app.commands.demo``.
"""
