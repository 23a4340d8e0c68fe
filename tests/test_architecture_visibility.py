"""Who may do what is decided in ``accounts/visibility.py`` alone: no other application
module or template compares roles. Code asks a named question instead
(``visibility.can_assign_owner(user)``, ``{% if user|can_administer %}`` ...), so a rule
changes in one place and every page follows.

A role comparison is: a call of ``is_admin(`` or ``is_manager(``, any use of
``is_superuser``, ``is_admin_role`` or ``is_manager_role``, and a comparison (``==``, ``!=``,
``in``) whose operand is a ``role`` or a ``Role.`` member.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Packages and files still being moved to named questions: none left.
PENDING_PACKAGES: set[str] = set()
PENDING_FILES: set[str] = set()

# Deliberate exceptions, each with its reason.
ALLOWED = {
    # The one place the rule lives.
    "accounts/visibility.py": "the visibility rule itself",
}

ROLE_CALLS = {"is_admin", "is_manager"}
ROLE_ATTRIBUTES = {"is_superuser", "is_admin_role", "is_manager_role"}
TEMPLATE_ROLE = re.compile(
    r"is_superuser|is_admin_role|is_manager_role|\.role\s*(==|!=|\bin\b)|Role\."
)


def _app_packages() -> list[Path]:
    """Top-level Python packages of the project (Django apps and ``config``), tests aside."""
    return sorted(
        p
        for p in ROOT.iterdir()
        if p.is_dir()
        and (p / "__init__.py").exists()
        and p.name not in {"tests", "bench", "scripts"}
        and not p.name.startswith(".")
    )


def _is_role_operand(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "role":
        return True
    if isinstance(node, ast.Name) and node.id == "role":
        return True
    # User.Role.ADMIN, self.Role.MANAGER, Role.REP
    while isinstance(node, ast.Attribute):
        node = node.value
        if isinstance(node, ast.Attribute) and node.attr == "Role":
            return True
        if isinstance(node, ast.Name) and node.id == "Role":
            return True
    return False


class _RoleChecks(ast.NodeVisitor):
    def __init__(self):
        self.found: list[tuple[int, str, str]] = []  # (line, enclosing function, what)
        self._functions: list[str] = []

    def _add(self, node, what):
        self.found.append((node.lineno, self._functions[-1] if self._functions else "", what))

    def visit_FunctionDef(self, node):
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in ROLE_CALLS:
            self._add(node, f"{name}(")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in ROLE_ATTRIBUTES:
            self._add(node, node.attr)
        self.generic_visit(node)

    def visit_Compare(self, node):
        operands = [node.left, *node.comparators]
        if any(_is_role_operand(o) for o in operands):
            self._add(node, "role comparison")
        self.generic_visit(node)


def role_checks(source: str) -> list[tuple[int, str, str]]:
    visitor = _RoleChecks()
    visitor.visit(ast.parse(source))
    return visitor.found


def _skipped(rel: str, function: str = "") -> bool:
    if rel.split("/", 1)[0] in PENDING_PACKAGES:
        return True
    keys = {rel, f"{rel}::{function}"} if function else {rel}
    return bool(keys & (set(ALLOWED) | PENDING_FILES))


def _python_violations() -> list[str]:
    out = []
    for package in _app_packages():
        for path in sorted(package.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue  # data migrations describe history, not rules
            for line, function, what in role_checks(path.read_text()):
                if not _skipped(rel, function):
                    out.append(f"{rel}:{line} ({function or 'module'}): {what}")
    return out


def _template_violations() -> list[str]:
    out = []
    folders = [ROOT / "templates", *(p / "templates" for p in _app_packages())]
    for folder in folders:
        for path in sorted(folder.rglob("*.html")) if folder.is_dir() else []:
            rel = path.relative_to(ROOT).as_posix()
            parts = path.relative_to(folder).parts
            if parts[0] in PENDING_PACKAGES or rel.split("/", 1)[0] in PENDING_PACKAGES:
                continue
            if _skipped(rel):
                continue
            for number, text in enumerate(path.read_text().splitlines(), 1):
                if TEMPLATE_ROLE.search(text):
                    out.append(f"{rel}:{number}: {text.strip()[:80]}")
    return out


def test_no_role_comparison_outside_visibility_in_python():
    assert _python_violations() == [], (
        "Ask a named question of accounts/visibility.py instead of comparing roles."
    )


def test_no_role_comparison_in_templates():
    assert _template_violations() == [], (
        "Use a filter of {% load permissions %} (e.g. user|can_administer) instead."
    )


@pytest.mark.parametrize(
    "source",
    [
        "def f(user):\n    return visibility.is_admin(user)\n",
        "def f(user):\n    return is_manager(user)\n",
        "def f(user):\n    return user.is_superuser\n",
        "def f(user):\n    return user.role == 'admin'\n",
        "def f(user):\n    return user.role != User.Role.REP\n",
        "def f(u):\n    return User.Role.MANAGER == u.role\n",
        "def f(role):\n    return role in ('admin', 'manager')\n",
        "def f(user):\n    return user.is_manager_role\n",
    ],
)
def test_checker_finds_each_kind_of_role_check(source):
    assert role_checks(source)


@pytest.mark.parametrize(
    "source",
    [
        "def f(user):\n    return visibility.can_assign_owner(user)\n",
        "User(role=User.Role.ADMIN)\n",
        "sorted(users, key=lambda u: order.index(u.role))\n",
    ],
)
def test_checker_lets_named_questions_and_role_assignment_pass(source):
    assert not role_checks(source)


def test_template_pattern_finds_role_checks():
    assert TEMPLATE_ROLE.search("{% if user.is_admin_role %}")
    assert TEMPLATE_ROLE.search("{% if user.role == 'manager' %}")
    assert not TEMPLATE_ROLE.search("{% if user|can_administer %}")
