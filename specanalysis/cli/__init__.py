"""The ``specanalysis`` command.

Each command lives in its own module (``specanalysis/cli/<command>.py``) with a
``register(subparsers)`` function; this module only assembles them, runs the
chosen one and turns errors into exit codes:

* 0 -- success
* 1 -- ``compare --fail-on``: the gate is met (a regression, or inconclusive)
* 2 -- bad input (a flag, file or config that cannot be used)
* 3 -- the data source (Prometheus) could not be reached
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from specanalysis import __version__
from specanalysis.errors import PrometheusUnavailable, SpecAnalysisError

__all__ = ["main", "build_parser"]

# command modules, in the order --help lists them
COMMANDS = ("profile", "recommend", "compare", "bench", "fixtures")

EPILOG = """\
exit codes: 0 ok, 1 a --fail-on gate is met (compare), 2 bad input,
3 data source unreachable

examples:
  specanalysis profile --fixture baseline
  specanalysis profile --prometheus http://localhost:9090 --window 1h --json
  specanalysis recommend --config current.toml --fixture baseline --write proposed.toml
  specanalysis bench run --duration 5m --rate 100 --depth-distribution uniform:1-5 \\
      --output throughput.json
  specanalysis bench suite --config current.toml --runs 3 --output-dir results/
  specanalysis bench report --input-dir results/ --output report.md
  specanalysis fixtures build
  specanalysis compare results-before/ results-after/ --fail-on regression \
      --report report.html

Live Prometheus: set SPECANALYSIS_PROMETHEUS_URL (and SPECANALYSIS_PROMETHEUS_TOKEN
for a bearer token; it is never printed) or pass --prometheus URL.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available command registered."""
    parser = argparse.ArgumentParser(
        prog="specanalysis",
        description=(
            "Profile a speculative-execution runtime's workload, recommend a "
            "configuration from the tuning guide's rules, and run the guide's "
            "benchmark suite on a simulated runtime."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"specanalysis.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"specanalysis.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PrometheusUnavailable as exc:
        print(f"specanalysis: data source unreachable: {exc}", file=sys.stderr)
        return 3
    except SpecAnalysisError as exc:
        print(f"specanalysis: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("specanalysis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
