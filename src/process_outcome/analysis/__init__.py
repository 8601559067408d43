"""The analysis layer: descriptives, the aim 1-3 models, results tables and figures,
model feasibility and design planning."""
