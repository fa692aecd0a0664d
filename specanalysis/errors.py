"""Typed errors raised by specanalysis.

Every error the package raises on bad input is a :class:`SpecAnalysisError`
subclass. Each carries structured context (``source``, ``line``, ``field``,
``expected``) so callers can act on it, and a message that names all of it, so
a person can read it.

Examples
--------
>>> from specanalysis.errors import ParseError
>>> err = ParseError("bad value 'x'", source="pre_metrics.txt", line=3,
...                  expected="a float")
>>> print(err)
pre_metrics.txt:3: bad value 'x' (expected a float)
>>> err.line
3
"""

from __future__ import annotations

from collections.abc import Iterable

from specanalysis._secrets import mask

__all__ = [
    "SpecAnalysisError",
    "ParseError",
    "SchemaError",
    "QueryError",
    "PrometheusError",
    "PrometheusUnavailable",
    "PrometheusTimeout",
    "ConfigError",
    "WorkloadSpecError",
    "DataError",
    "MissingDependencyError",
    "LimitError",
    "ConfigMismatchError",
    "SweepError",
    "SchedulerUnavailable",
]
# also public, but not error classes: EXIT_* codes, EXIT_CODES_HELP, exit_code()

#: CLI exit codes (one mapping, :func:`exit_code`; every ``--help`` prints it).
EXIT_OK = 0
EXIT_VERDICT = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_REFUSED = 4
EXIT_CODES_HELP = """\
exit codes:
  0  ok
  1  a --fail-on verdict was met (commands that judge a change)
  2  bad input: a flag, file, config or output path that cannot be used
  3  the data source (Prometheus) or the Dask scheduler could not be reached
  4  the server refused the query or timed out evaluating it
"""


class SpecAnalysisError(Exception):
    """Base class of every error specanalysis raises on bad input.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    source
        The file, URL or object the problem is in (never a secret).
    line
        1-based line number within ``source``, when there is one.
    field
        The field, column, flag or config key at fault.
    expected
        What would have been accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        # every string that leaves the package is masked, before any truncation
        self.message = mask(str(message))
        self.source = mask(source)
        self.line = line
        self.field = mask(field)
        self.expected = mask(expected)
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.source is not None:
            where = str(self.source)
            if self.line is not None:
                where += f":{self.line}"
        elif self.line is not None:
            where = f"line {self.line}"
        text = self.message
        if self.field is not None:
            text = f"{self.field}: {text}"
        if where:
            text = f"{where}: {text}"
        if self.expected is not None:
            text += f" (expected {self.expected})"
        return text


class ParseError(SpecAnalysisError, ValueError):
    """Text or bytes that do not follow the format they claim (exposition, JSON, TOML)."""


class SchemaError(SpecAnalysisError, ValueError):
    """A frame lacks a required column or has one of the wrong type."""


class QueryError(SpecAnalysisError, ValueError):
    """A query expression that cannot be built or evaluated."""


class PrometheusError(SpecAnalysisError):
    """The Prometheus HTTP API answered with an error.

    ``error_type`` is the API's ``errorType`` (``bad_data``, ``execution``,
    ``timeout``, ``canceled``, ``internal``, ``unavailable``) or
    ``"non_json"`` when a proxy answered with something that is not the API's
    JSON envelope. ``status`` is the HTTP status code when known.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        status: int | None = None,
        **kwargs,
    ) -> None:
        self.error_type = mask(error_type) if isinstance(error_type, str) else (
            None if error_type is None else repr(error_type))
        self.status = status if isinstance(status, int) else None
        super().__init__(message, **kwargs)

    def _render(self) -> str:
        text = super()._render()
        tags = []
        if self.status is not None:
            tags.append(f"HTTP {self.status}")
        if self.error_type is not None:
            tags.append(self.error_type)
        return f"[{', '.join(tags)}] {text}" if tags else text


class PrometheusUnavailable(PrometheusError):
    """The server could not be reached, or stayed unavailable until the deadline."""


class PrometheusTimeout(PrometheusError):
    """The server timed out evaluating a query (never retried: it would time out again)."""


class ConfigError(SpecAnalysisError, ValueError):
    """A configuration with one or more problems; ``problems`` lists them all.

    Examples
    --------
    >>> err = ConfigError(["speculation.max_depth: 0 is out of range (expected 1..20)",
    ...                    "speculation.mode: 'fast' is not allowed"], source="x.toml")
    >>> len(err.problems)
    2
    >>> print(err)  # doctest: +NORMALIZE_WHITESPACE
    x.toml: 2 problems in the configuration:
      - speculation.max_depth: 0 is out of range (expected 1..20)
      - speculation.mode: 'fast' is not allowed
    """

    def __init__(self, problems: str | Iterable[str], **kwargs) -> None:
        self.problems: list[str] = [
            mask(str(p)) for p in ([problems] if isinstance(problems, str) else problems)
        ]
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the configuration:"
        body = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(head + body, **kwargs)


class WorkloadSpecError(SpecAnalysisError, ValueError):
    """A workload or distribution spec (``"uniform:1-5"``, ``"lognormal:mean=2s"``) that cannot be read."""


class DataError(SpecAnalysisError, ValueError):
    """Data that cannot answer the question: missing metrics, a window longer than the data."""


class MissingDependencyError(SpecAnalysisError, ImportError):
    """An optional dependency is not installed; the message names the package to install."""


class ConfigMismatchError(ConfigError):
    """The configuration a user passed disagrees with the configuration gauges in the
    data (``strict`` mode); ``problems`` names each parameter with both values."""


class SweepError(SpecAnalysisError, RuntimeError):
    """A what-if sweep could not finish; the runs it completed are kept in its cache."""


class SchedulerUnavailable(SweepError, ConnectionError):
    """The Dask scheduler could not be reached (raised before any work is lost)."""


class LimitError(SpecAnalysisError, ValueError):
    """An input or a request exceeds a resource limit; the message names the limit
    and how to raise it (:mod:`specanalysis.limits`)."""


def exit_code(exc: BaseException) -> int:
    """The CLI exit code for an error (see :data:`EXIT_CODES_HELP`).

    Examples
    --------
    >>> exit_code(PrometheusUnavailable("down")), exit_code(PrometheusTimeout("slow"))
    (3, 4)
    >>> exit_code(ConfigError("bad")), exit_code(OSError(13, "Permission denied"))
    (2, 2)
    """
    if isinstance(exc, PrometheusUnavailable | SchedulerUnavailable):
        return EXIT_UNREACHABLE
    if isinstance(exc, PrometheusError):
        return EXIT_REFUSED
    if isinstance(exc, SpecAnalysisError | OSError):
        return EXIT_BAD_INPUT
    raise TypeError(f"no exit code for {type(exc).__name__}")
