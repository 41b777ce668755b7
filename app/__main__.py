"""`python -m app …` is the `protect` command."""

from app.entrypoints.cli import main

if __name__ == "__main__":  # not when a worker process started by spawn imports this module
    main()
