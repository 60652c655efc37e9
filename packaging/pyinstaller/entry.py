"""Entry point frozen by PyInstaller: the same `pos` command as the console script."""

from pos_app.cli import main

main()
