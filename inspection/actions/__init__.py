"""Every write of the inspection domain, one module per capability (ingest, review, alarms, profiling).

Each action is one transaction with its audit record inside; live events are published after commit.
"""
