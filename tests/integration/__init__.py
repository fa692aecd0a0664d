"""Integration tier: real ``prometheus``/``promtool`` binaries, backfilled data."""
