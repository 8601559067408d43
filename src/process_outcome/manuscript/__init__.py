"""The manuscript: one module per section, built from the results files of one run."""
