"""The ``specanalysis`` command.

Each command lives in its own module (``specanalysis/cli/<command>.py``) with a
``register(subparsers)`` function; this module only assembles them, runs the
chosen one and turns errors into exit codes:

* 0 -- success
* 1 -- a ``--fail-on`` verdict was met (``compare --fail-on``: a regression, or
  also an inconclusive verdict)
* 2 -- bad input (a flag, file or config that cannot be used, an unwritable output)
* 3 -- the data source (Prometheus) or the Dask scheduler could not be reached
* 4 -- the server refused or timed out the query

The mapping is :func:`specanalysis.errors.exit_code`; the same text ends every
``--help``. An unexpected exception (a bug) prints a masked traceback and exits
70 (``EX_SOFTWARE``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from specanalysis import __version__
from specanalysis._secrets import mask
from specanalysis.errors import (
    EXIT_CODES_HELP,
    EXIT_UNREACHABLE,
    PrometheusError,
    SchedulerUnavailable,
    SpecAnalysisError,
    exit_code,
)

__all__ = ["main", "build_parser"]

# command modules, in the order --help lists them
COMMANDS = ("profile", "recommend", "compare", "bench", "sweep", "fixtures", "model",
            "proofcost")

EPILOG = """\
examples:
  specanalysis profile --fixture baseline
  specanalysis profile --prometheus http://localhost:9090 --window 1h --json
  specanalysis recommend --config current.toml --fixture baseline --write proposed.toml
  specanalysis bench run --duration 5m --rate 100 --depth-distribution uniform:1-5 \\
      --output throughput.json
  specanalysis bench suite --config current.toml --runs 3 --output-dir results/
  specanalysis bench report --input-dir results/ --output report.md
  specanalysis sweep --config current.toml --workload fixture:baseline \\
      --set speculation.max_depth=3,5,8 --set proof.worker_threads=4,8 --seeds 5
  specanalysis fixtures build
  specanalysis compare results-before/ results-after/ --fail-on regression \\
      --report report.html
  specanalysis model latency --fixture baseline
  specanalysis model rollback --fixture baseline --json
  specanalysis proofcost --constraints 1000000 --cores 16
  specanalysis proofcost size-pool --fixture baseline --target-p99 60

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
    _document_exit_codes(parser)
    return parser


def _document_exit_codes(parser: argparse.ArgumentParser) -> None:
    """End every parser's --help (commands and subcommands) with the exit codes."""
    epilog = parser.epilog or ""
    if EXIT_CODES_HELP not in epilog:
        parser.epilog = (epilog.rstrip("\n") + "\n\n" if epilog else "") + EXIT_CODES_HELP
        if parser.formatter_class is argparse.HelpFormatter:
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _document_exit_codes(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (SpecAnalysisError, OSError) as exc:
        code = exit_code(exc)
        if isinstance(exc, OSError):  # an output path: unwritable, a directory, ...
            where = f"{exc.filename}: " if exc.filename else ""
            text = f"{where}{exc.strerror or exc}"
        else:
            text = str(exc)
        what = {EXIT_UNREACHABLE: "Dask scheduler unreachable"
                if isinstance(exc, SchedulerUnavailable)
                else "data source unreachable"}.get(
            code, "the server refused the query" if isinstance(exc, PrometheusError)
            else "error")
        print(f"specanalysis: {what}: {mask(text)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("specanalysis: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: say so, with a traceback that cannot hold a secret
        import traceback

        print(mask(traceback.format_exc()), file=sys.stderr, end="")
        print("specanalysis: internal error (a bug; please report it with the "
              "traceback above)", file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
