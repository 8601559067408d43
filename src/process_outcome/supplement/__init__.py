"""The journal supplement: synthetic replica, data dictionary, metadata, privacy scan
and archive."""
