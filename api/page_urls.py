from django.urls import path

from api import pages

urlpatterns = [
    path("settings/api-tokens/", pages.api_tokens, name="api_tokens"),
    path("settings/api-tokens/<int:pk>/revoke/", pages.api_token_revoke, name="api_token_revoke"),
    path("settings/webhooks/", pages.webhook_list, name="webhooks"),
    path("settings/webhooks/<int:pk>/toggle/", pages.webhook_toggle, name="webhook_toggle"),
    path(
        "settings/webhooks/deliveries/<int:pk>/redeliver/",
        pages.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
