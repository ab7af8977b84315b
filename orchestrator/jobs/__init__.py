"""Job records (the source of truth), their fenced state changes, fair claims and the reaper."""
