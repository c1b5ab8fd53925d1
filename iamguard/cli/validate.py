"""`iamguard validate FILE...`: the policy linter on files, with an exit code for CI."""

from __future__ import annotations

import argparse
from typing import Any

from iamguard.cli.context import CliContext
from iamguard.cli.errors import EXIT_DENIED, EXIT_OK, CliError
from iamguard.cli.output import Result
from iamguard.errors import printable
from iamguard.lint import LintFinding, Severity, validate_policy
from iamguard.policy.model import PolicyKind

KINDS = tuple(kind.value for kind in PolicyKind)
SEVERITIES = tuple(severity.value for severity in sorted(Severity, reverse=True))


def register(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "validate", parents=[common], help="check policy documents for errors and risky constructs",
        description="Check policy documents with the iamguard linter. Exit status: 0 when no finding is at or "
                    "above --fail-on, 1 when one is, 2 when a file cannot be read.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="policy documents: a path, file://PATH, - for standard input, or inline JSON")
    parser.add_argument("--kind", choices=KINDS, default="identity",
                        help="how the documents are used (default: identity)")
    parser.add_argument("--fail-on", choices=SEVERITIES, default=Severity.SECURITY_WARNING.value, type=str.upper,
                        help="exit with status 1 when a finding is at least this severe (default: SECURITY_WARNING)")
    parser.add_argument("--min-severity", choices=SEVERITIES, default=Severity.SUGGESTION.value, type=str.upper,
                        help="hide findings less severe than this (default: SUGGESTION, show all)")
    parser.add_argument("--declared-key", action="append", default=[], metavar="KEY",
                        help="a condition key your application puts in the request context (repeatable; "
                             "'app:*' declares a whole prefix)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: CliContext) -> Result:
    fail_on = Severity.parse(args.fail_on)
    shown = Severity.parse(args.min_severity)
    reports: list[dict[str, Any]] = []
    failed = False
    for value in args.files:
        document = ctx.reader.read(value, option="FILE", allow_plain_path=True)
        findings = validate_policy(document.content, args.kind, declared_keys=args.declared_key)
        failed = failed or any(finding.severity >= fail_on for finding in findings)
        visible = [finding for finding in findings if finding.severity >= shown]
        reports.append({"file": document.label, "findings": [finding.to_dict() for finding in visible]})
    if not reports:  # pragma: no cover - argparse requires at least one file
        raise CliError("no files to validate")
    return Result(reports, _text(reports), EXIT_DENIED if failed else EXIT_OK)


def _text(reports: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    total = 0
    for report in reports:
        findings = report["findings"]
        total += len(findings)
        # A file name is the one thing here not written by the linter: a name holding a newline or a
        # terminal escape (a file added by a pull request) must not forge or hide a line of the report.
        label = printable(report["file"])
        if not findings:
            lines.append(f"{label}: no findings")
            continue
        for item in findings:
            finding = LintFinding(Severity(item["severity"]), item["code"], item["pointer"], item["message"])
            lines.append(f"{label}: {finding}")
    noun = "finding" if total == 1 else "findings"
    lines.append(f"{total} {noun} in {len(reports)} file{'s' if len(reports) != 1 else ''}")
    return "\n".join(lines)
