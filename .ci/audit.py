"""CI's dependency audit: `pip-audit` over the installed environment (the project itself skipped).

* Known vulnerabilities found → exit 1 (CI fails), with the list.
* The vulnerability service cannot be reached, or cannot answer for any of the packages (a machine
  that sees only a PyPI mirror without the JSON API): report it clearly and exit 0 — an audit that
  could not run must not make CI flaky, and it must not pass silently either.

    .venv/bin/python .ci/audit.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 300


def main() -> int:
    audit = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "audit.json"
        try:
            proc = subprocess.run(  # noqa: S603 (our own venv's tool, fixed arguments)
                [
                    str(audit),
                    "--skip-editable",
                    "--progress-spinner",
                    "off",
                    "--format",
                    "json",
                    "--output",
                    str(report_path),
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"pip-audit: SKIPPED — could not run ({exc})")
            return 0
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError):
            print("pip-audit: SKIPPED — the vulnerability service could not be reached:")
            print("  " + (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:500])
            return 0

    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = [d for d in deps if "skip_reason" not in d]
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} package(s) with known vulnerabilities:")
        for d in vulnerable:
            ids = ", ".join(
                v["id"] + (f" (fix: {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
                for v in d["vulns"]
            )
            print(f"  {d['name']} {d['version']}: {ids}")
        return 1
    if deps and not audited:
        reason = deps[0].get("skip_reason", "")
        print(
            f"pip-audit: SKIPPED — none of the {len(deps)} packages could be audited: the vulnerability "
            f"service did not answer for them (e.g. {reason!r}). This machine probably reaches only a "
            "PyPI mirror without the JSON API; run `pip-audit` where pypi.org is reachable."
        )
        return 0
    skipped = len(deps) - len(audited)
    print(
        f"pip-audit: no known vulnerabilities in {len(audited)} package(s)"
        + (f" ({skipped} not auditable)" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
