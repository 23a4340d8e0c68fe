"""Domain events the forecasting services announce (see :mod:`pipeline.events`)."""

from django.dispatch import Signal

adjustment_set = Signal()  # adjustment (None when a call was cleared), by
