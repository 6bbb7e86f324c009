"""`python -m interlink` runs the command line."""

from interlink.cli.main import main

main()
