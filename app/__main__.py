"""`python -m app …` is the `protect` command."""

from app.cli import main

main()
