"""`python -m pos_app` is the same as the `pos` command."""

from pos_app.cli import main

if __name__ == "__main__":
    main()
