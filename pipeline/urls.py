"""The rep's workspace. Each views module owns its URL patterns; they are joined here."""

from pipeline.views import (
    activities,
    autocomplete,
    board,
    board_prefs,
    companies,
    contacts,
    inline_edit,
    leads,
    line_items,
    opportunities,
    products,
    search,
)

app_name = "pipeline"
urlpatterns = [
    *board.urlpatterns,
    *board_prefs.urlpatterns,
    *opportunities.urlpatterns,
    *line_items.urlpatterns,
    *inline_edit.urlpatterns,
    *leads.urlpatterns,
    *companies.urlpatterns,
    *contacts.urlpatterns,
    *activities.urlpatterns,
    *search.urlpatterns,
    *autocomplete.urlpatterns,
    *products.urlpatterns,
]
