"""Click subcommands, each imported lazily by pos_app.cli."""
