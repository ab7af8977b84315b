"""The `wan-i2v` command line: one module per command group."""
