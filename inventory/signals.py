"""What the inventory tells the apps built on it, which it must not import: a scan of a source completed, the
governance policies were evaluated.

Sent once the run's transaction has committed, so a receiver reads the inventory as the scan left it. Receivers
queue their own work (reconciliation, control evaluation); they must not do it inline, or the scan would wait.
"""

from django.dispatch import Signal

# Keyword: ``run`` (the complete ScanRun, of a vCenter scan or a file import).
scan_completed = Signal()

# Keyword: ``result`` (the EvaluationResult: findings opened, resolved and reopened per kind).
policies_evaluated = Signal()
