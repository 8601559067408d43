"""The data layer: reading the user's files, cleaning, ids and pseudonyms, the
patient-level analysis table and the simulated study."""
