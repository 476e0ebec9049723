"""The store: local and object-storage backends, the ledger, locking, atomic writes, dedup, compaction,
quarantine. Below every stage that reads or writes rows; imports only the top-level modules."""
