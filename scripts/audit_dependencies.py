"""Audit the installed Python dependencies for known vulnerabilities (pip-audit, PyPI's
advisory data). Run by `make security` and CI.

Exit 1 when a vulnerability is found in an audited package. When the advisory service cannot
be reached (an offline mirror answers "not found" for every package), say so, list how many
packages went unaudited, and exit 0: a gate that cannot look must not block a build, but it
must never claim "no known vulnerabilities" either.
"""

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> int:
    done = subprocess.run(
        [str(BIN / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit could not run (exit {done.returncode}): {done.stderr.strip()[-800:]}")
        print("dependency audit SKIPPED: the advisory service could not be reached")
        return 0
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    found = [(d["name"], d["version"], v) for d in audited for v in d.get("vulns", [])]
    for name, version, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
        print(f"VULNERABLE {name} {version}: {vuln['id']} (fixed in {fixes})")
    if found:
        print(f"dependency audit FAILED: {len(found)} known vulnerabilities")
        return 1
    if not audited:
        print(
            f"dependency audit SKIPPED: none of {len(deps)} packages could be audited (the "
            "advisory service is not reachable from here); run `make security` where it is"
        )
        return 0
    print(f"dependency audit OK: {len(audited)} packages audited, {len(skipped)} not found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
