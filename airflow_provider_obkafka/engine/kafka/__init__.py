"""The Kafka side: the transactional sink (the exactly-once boundary) and the checkpoint records."""
