"""The rule bodies: one function per workflow rule reads the rule's input files, calls
the library and writes its outputs. The scripts in ``scripts/`` only pass Snakemake's
paths to these (``run`` wraps each for logging and user-facing errors)."""
