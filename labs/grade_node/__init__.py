"""python -m labs grade-node "CMD": grade a student's node under faults (workload, properties, report)."""
