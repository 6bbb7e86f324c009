"""The `interlink` command line."""
