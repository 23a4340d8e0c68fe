"""The bell's unread count for every page: one cheap query, and only when a page shows it."""

from django.utils.functional import SimpleLazyObject


def bell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count():
        from notifications.selectors import unread_count

        return unread_count(user)

    return {"notifications_unread": SimpleLazyObject(count)}
