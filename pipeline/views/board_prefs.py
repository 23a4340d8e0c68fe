"""A person's board view (``POST /pipeline/board/view/``): card density and collapsed columns.

Plain forms on the board post here and come back to the board (``next``);
``static/js/board_prefs.js`` posts the same forms in place and reads the JSON answer. The
choice is the person's own (``accounts.board_prefs``): it never changes what anyone else sees,
so it needs no visibility check beyond being signed in, and names a stage only by an id that
must be an open stage of an active pipeline. Anything else is a 400 saying what was wrong.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts import board_prefs
from accounts.models import User
from accounts.redirects import safe_next
from pipeline.models import Stage


def _refuse(request, message: str):
    if _wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _stage_id(raw: str) -> int | None:
    if not re.fullmatch(r"[0-9]{1,12}", raw):  # not isdigit(): "²" is a digit to it
        return None
    stage = (
        Stage.objects.filter(pk=int(raw), kind=Stage.Kind.OPEN, pipeline__is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    return stage


@login_required
@require_POST
def board_view_prefs(request):
    density = request.POST.get("density")
    stage = request.POST.get("stage")
    if (density is None) == (stage is None):
        return _refuse(request, "Send either density or stage (with collapsed).")
    if density is not None:
        if density not in User.BoardDensity.values:
            return _refuse(request, "Density is comfortable or compact.")
        board_prefs.set_density(user=request.user, density=density)
    else:
        collapsed = request.POST.get("collapsed")
        if collapsed not in ("0", "1"):
            return _refuse(request, "Collapsed is 1 (collapse the column) or 0 (expand it).")
        stage_id = _stage_id(stage)
        if stage_id is None:
            return _refuse(request, "There is no such column on any board.")
        board_prefs.set_column_collapsed(
            user=request.user, stage_id=stage_id, collapsed=collapsed == "1"
        )
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "density": request.user.board_density,
                "collapsed": sorted(board_prefs.collapsed_stages(request.user)),
            }
        )
    return HttpResponseRedirect(safe_next(request, reverse("pipeline:board")), status=303)


urlpatterns = [
    path("board/view/", board_view_prefs, name="board_prefs"),
]
