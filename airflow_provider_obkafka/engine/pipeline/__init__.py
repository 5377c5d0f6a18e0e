"""The loops of the data path: a chunk of the full sync, a change-log range of the incremental sync, retries."""
