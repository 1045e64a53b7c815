"""Sources, scan runs, the estate's VMs and their identity, history, lineage, approvals and findings."""
