"""What the questionnaires tell the apps built on them, which they must not import: a reconciliation run finished.

Sent once the run's transaction has committed, so a receiver reads the items as the run left them. Receivers
queue their own work (control evaluation); they must not do it inline, or the run would wait.
"""

from django.dispatch import Signal

# Keyword: ``run`` (the finished ReconciliationRun; its ``trigger`` is ``close`` when a campaign closed).
reconciliation_completed = Signal()
