"""The rep's workspace. Each views module owns its URL patterns; they are joined here."""

from pipeline.views import (
    activities,
    board,
    companies,
    contacts,
    leads,
    opportunities,
    products,
    search,
)

app_name = "pipeline"
urlpatterns = [
    *board.urlpatterns,
    *opportunities.urlpatterns,
    *leads.urlpatterns,
    *companies.urlpatterns,
    *contacts.urlpatterns,
    *activities.urlpatterns,
    *search.urlpatterns,
    *products.urlpatterns,
]
