"""``python -m baton``: the command line."""

from baton.cli.main import main

if __name__ == "__main__":
    main()
