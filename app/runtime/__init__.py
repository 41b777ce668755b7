"""The processes that keep it running: the local system, the cluster, the Prefect proxy, the
outbox dispatcher and the sweep."""
