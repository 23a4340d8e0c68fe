"""Pages of the notifications app: thin, each parses, calls a service or selector, renders."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from icalendar import Calendar, Event

from accounts import visibility
from accounts.redirects import safe_next
from notifications import selectors, services
from notifications.models import Event as EventKind
from notifications.models import Preference

app_name = "notifications"


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


@login_required
@require_GET
def notification_list(request):
    qs = selectors.notifications_for(request.user)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "notifications": page.object_list,
            "unread": selectors.unread_count(request.user),
        },
    )


@login_required
@require_POST
def mark_read(request, pk: int):
    try:
        notification = services.mark_read(notification_id=pk, by=request.user)
    except PermissionDenied:
        raise Http404("No such notification.") from None
    if request.POST.get("open") == "1":
        target = notification.get_absolute_url()
        if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
    return redirect(_back(request))


@login_required
@require_POST
def mark_all_read(request):
    count = services.mark_all_read(by=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return redirect(_back(request))


def _back(request) -> str:
    return safe_next(request, reverse("notifications:list"))


def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    pref = Preference.for_user(request.user)
    errors: list[str] = []
    data = None
    if request.method == "POST":
        data = request.POST
        try:
            services.update_preferences(
                user=request.user,
                by=request.user,
                version=data.get("version"),
                digest_enabled=data.get("digest_enabled") == "on",
                digest_hour=data.get("digest_hour"),
                time_zone=data.get("time_zone", ""),
                in_app_events=data.getlist("in_app"),
                email_events=data.getlist("email"),
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Your notification settings are saved.")
            return redirect("notifications:preferences")
    if data is not None:
        # Show what was posted, so a refused form keeps the user's choices.
        shown = {
            "digest_enabled": data.get("digest_enabled") == "on",
            "digest_hour": data.get("digest_hour", ""),
            "time_zone": data.get("time_zone", ""),
            "in_app": set(data.getlist("in_app")),
            "email": set(data.getlist("email")),
        }
    else:
        shown = {
            "digest_enabled": pref.digest_enabled,
            "digest_hour": str(pref.digest_hour),
            "time_zone": pref.time_zone,
            "in_app": set(pref.in_app_events or []),
            "email": set(pref.email_events or []),
        }
    # Only managers hear of their team's won and lost deals: reps are not offered the row.
    offered = [
        (v, label)
        for v, label in EventKind.choices
        if v != EventKind.DEAL_CLOSED or visibility.follows_team(request.user)
    ]
    events = [
        {"value": v, "label": label, "in_app": v in shown["in_app"], "email": v in shown["email"]}
        for v, label in offered
    ]
    # What is not offered keeps its stored choice (hidden fields), e.g. for a later promotion.
    kept = [
        {"value": v, "in_app": v in shown["in_app"], "email": v in shown["email"]}
        for v in EventKind.values
        if v not in {e["value"] for e in events}
    ]
    feed_url = (
        services.absolute(reverse("notifications:calendar_feed", args=[pref.calendar_token]))
        if pref.calendar_token
        else ""
    )
    return render(
        request,
        "notifications/preferences.html",
        {
            "pref": pref,
            "shown": shown,
            "events": events,
            "kept": kept,
            "hours": [(str(h), f"{h:02d}:00") for h in range(24)],
            "time_zones": _time_zones(),
            "errors": errors,
            "feed_url": feed_url,
            "has_email": services.has_valid_email(request.user),
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def calendar_token(request):
    action = request.POST.get("action")
    if action == "new":
        had_one = bool(Preference.for_user(request.user).calendar_token)
        services.new_calendar_token(user=request.user, by=request.user)
        messages.success(
            request,
            "Your calendar feed has a new private address; the old one stopped working."
            if had_one
            else "Your calendar feed is ready: copy its address into your calendar.",
        )
    elif action == "revoke":
        services.revoke_calendar_token(user=request.user, by=request.user)
        messages.success(request, "Your calendar feed is off; its address no longer works.")
    else:
        messages.error(request, "Choose to create a new calendar address or to switch it off.")
    return redirect("notifications:preferences")


@require_GET
def calendar_feed(request, token: str):
    """The private iCalendar feed: no login (calendar clients cannot sign in); the token is the
    secret, and a revoked or unknown token is a 404."""
    pref = (
        Preference.objects.select_related("user")
        .filter(calendar_token=token, user__is_active=True)
        .first()
        if token
        else None
    )
    if pref is None:
        raise Http404("No calendar feed at this address.")
    user = pref.user
    tasks, deals = selectors.calendar_items(user)
    host = settings.OPPORTUNE_BASE_URL.split("://", 1)[-1].split("/", 1)[0] or "opportune"
    cal = Calendar()
    cal.add("prodid", "-//Opportune//Tasks and close dates//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Opportune · {user}")
    cal.add("x-wr-timezone", pref.time_zone)
    stamp = dt.datetime.now(dt.UTC)
    for task in tasks:
        event = Event()
        event.add("uid", f"task-{task.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", task.due_on)
        event.add("dtend", task.due_on + dt.timedelta(days=1))
        target = task.target
        event.add("summary", f"Task: {task.subject}" + (f" · {target}" if target else ""))
        if task.body:
            event.add("description", task.body)
        event.add("url", services.absolute(task.get_absolute_url()))
        event.add("categories", ["Task"])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    for deal in deals:
        event = Event()
        event.add("uid", f"deal-{deal.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", deal.expected_close_date)
        event.add("dtend", deal.expected_close_date + dt.timedelta(days=1))
        event.add("summary", f"Expected close: {deal.name}")
        event.add(
            "description",
            f"{deal.company or 'No company'} · {deal.stage.name} · "
            f"{deal.amount} {settings.OPPORTUNE_CURRENCY}",
        )
        event.add("url", services.absolute(deal.get_absolute_url()))
        event.add("categories", ["Deal"])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="opportune.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt  # RFC 8058 one-click: mail clients POST here without a session or CSRF token.
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows what the signed link will stop and one button; POST (the button, or a mail
    client's one-click) does it. A tampered link changes nothing and says so."""
    try:
        user, what = services.read_unsubscribe_token(token)
    except ValidationError as exc:
        return render(
            request, "notifications/unsubscribe.html", {"error": _errors(exc)[0]}, status=400
        )
    done = False
    if request.method == "POST":
        services.unsubscribe(token=token)
        done = True
    return render(
        request,
        "notifications/unsubscribe.html",
        {"target_user": user, "what": what, "done": done, "token": token},
    )


@login_required
@require_GET
def mention_suggestions(request):
    """Autocomplete for @mentions: only the people the signed-in user may mention."""
    results = selectors.mention_suggestions(request.user, request.GET.get("q", ""))
    return JsonResponse({"results": results})


urlpatterns = [
    path("", notification_list, name="list"),
    path("<int:pk>/read/", mark_read, name="mark_read"),
    path("read-all/", mark_all_read, name="mark_all_read"),
    path("settings/", preferences, name="preferences"),
    path("settings/calendar/", calendar_token, name="calendar_token"),
    path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("mentions/", mention_suggestions, name="mentions"),
]
