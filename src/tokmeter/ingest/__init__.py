"""The ingest run (serial and parallel workers), follow/tail and its checkpoints."""
