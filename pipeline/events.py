"""Domain events the pipeline services announce, for higher layers to act on.

A service sends one of these inside its transaction, after its write; receivers live in the
apps above (the notifications app connects its hooks in ``NotificationsConfig.ready``) and
defer their own work with ``transaction.on_commit``. The services never import those apps, so
the layers keep running one way: accounts ← pipeline ← forecasting ← notifications. These are
not model signals: only the services send them, each once per business action.
"""

from django.dispatch import Signal

deal_created = Signal()  # opportunity, by
deal_changed = Signal()  # opportunity, by, fields (names of the fields that changed)
deal_moved = Signal()  # opportunity, by (the deal in its new stage)
lead_assigned = Signal()  # lead, by
activity_logged = Signal()  # activity, by
lead_created = Signal()  # lead, by
lead_converted = Signal()  # lead, opportunity, by
