from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Sales pipeline"

    def ready(self):
        from pipeline import board_cache, read_cache
        from pipeline.services import closed_rates

        board_cache.connect_signals()
        read_cache.connect_signals()
        closed_rates.connect_signals()
