"""`make audit`: dependency bounds and consistency (offline), then known vulnerabilities.

pip-audit asks PyPI's JSON API for each installed package's advisories. Where that API is
unreachable (an offline machine, a registry mirror without it) pip-audit skips every
package and still says "No known vulnerabilities found" with exit code 0; this script
counts what was actually audited and fails loudly instead of passing on no data.

Exit codes: 0 all checks ran and passed; 1 a check failed (vulnerabilities, an
unbounded or inconsistent dependency); 3 the offline checks passed but the
vulnerability data could not be reached, so nothing was audited.
"""

# A command-line report: printing is its job.
# ruff: noqa: T201

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOWER = {">=", ">", "~=", "=="}
UPPER = {"<", "<=", "~=", "=="}


def unbounded_requirements() -> tuple[int, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]] + [
        r for extra in project.get("optional-dependencies", {}).values() for r in extra
    ]
    bad = []
    for text in requirements:
        operators = {spec.operator for spec in Requirement(text).specifier}
        if not (operators & LOWER and operators & UPPER):
            bad.append(text)
    return len(requirements), bad


def pip_check() -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def pip_audit() -> tuple[int, int, list[str], str]:
    """(packages audited, packages skipped, vulnerability lines, error text)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--skip-editable", "--format=json",
         "--progress-spinner=off", "--timeout=30"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return 0, 0, [], (done.stderr.strip().splitlines() or ["pip-audit failed"])[-1]
    audited = skipped = 0
    vulnerable = []
    for dependency in report.get("dependencies", []):
        if dependency.get("skip_reason"):
            skipped += 1
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            vulnerable.append(
                f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})"
            )
    return audited, skipped, vulnerable, ""


def main() -> int:
    failed = False
    total, unbounded = unbounded_requirements()
    if unbounded:
        failed = True
        print(f"FAIL  dependency bounds: no lower or upper bound on {', '.join(unbounded)}")
    else:
        print(f"ok    dependency bounds: all {total} requirements have a lower and upper bound")
    consistent, text = pip_check()
    print(f"{'ok   ' if consistent else 'FAIL '} pip check: {text.splitlines()[0] if text else ''}")
    failed |= not consistent
    audited, skipped, vulnerable, error = pip_audit()
    if vulnerable:
        failed = True
        print(f"FAIL  pip-audit: {len(vulnerable)} known vulnerabilities")
        for line in vulnerable:
            print(f"        {line}")
    if audited == 0:
        reason = error or f"PyPI's vulnerability data was unreachable for all {skipped} packages"
        print(
            f"NOT RUN  pip-audit: nothing was audited ({reason}). pip-audit itself would report "
            "'No known vulnerabilities found' here. Run `make audit` where PyPI's JSON API "
            "(pypi.org/pypi/<name>/<version>/json) is reachable."
        )
        return 1 if failed else 3
    note = f" ({skipped} could not be looked up)" if skipped else ""
    if not vulnerable:
        print(f"ok    pip-audit: {audited} packages audited, no known vulnerabilities{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
