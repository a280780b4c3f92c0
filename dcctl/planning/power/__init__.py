"""Power: a cap per GPU that keeps every feed, PDU and rack budget (``dcctl plan power``)."""
