"""The runtime's ``[speculation]`` configuration: typed, validated, diffable.

:class:`SpeculationConfig` mirrors the tuning guide's TOML sections
(``[speculation]``, ``[speculation.stake]``, ``[speculation.proof]``,
``[speculation.limits]``, ``[speculation.features]``) as a frozen, nested
dataclass. ``SpeculationConfig()`` holds the runtime defaults (DESIGN-DOCUMENT
§7 / API §6.1); keys a TOML file leaves out take those defaults.

Validation collects every problem (wrong type, ``true`` where an integer is
expected, out of range, unknown key with a did-you-mean, bad enum value, a
missing ``[speculation]`` table) and raises one :class:`ConfigError` listing
them all. Soft cross-field issues are returned by
:meth:`SpeculationConfig.warnings` instead.

Also here: the guide's four scenario configurations (:data:`SCENARIOS`), the
workload classification matrix's cells (:data:`QUADRANTS`, read from the one
matrix of :mod:`specanalysis.matrix`) and the guide's sizing formulas (:func:`required_memory_mb`, :func:`state_snapshots`,
:func:`max_pending_operations`, :func:`gc_interval_ms`,
:func:`proof_queue_size`, :func:`sizing_for`).

Examples
--------
>>> cfg = SpeculationConfig.from_toml('''
... [speculation]
... enabled = true
... max_depth = 3
... [speculation.proof]
... batch_size = 20
... ''')
>>> cfg.max_depth, cfg.proof.batch_size, cfg.proof.worker_threads
(3, 20, 4)
>>> cfg.replace(**{"proof.batch_size": 50}).proof.batch_size
50
>>> SpeculationConfig.from_toml(cfg.to_toml()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis.errors import ConfigError, LimitError, ParseError, SpecAnalysisError
from specanalysis.matrix import MATRIX, Quadrant

__all__ = [
    "SpeculationConfig",
    "StakeConfig",
    "ProofConfig",
    "LimitsConfig",
    "FeaturesConfig",
    "ConfigParseError",
    "SizingInputError",
    "MODES",
    "ROLLBACK_POLICIES",
    "GENERATORS",
    "Scenario",
    "SCENARIOS",
    "Quadrant",
    "QUADRANTS",
    "MemorySizing",
    "required_memory_mb",
    "state_snapshots",
    "max_pending_operations",
    "gc_interval_ms",
    "proof_queue_size",
    "sizing_for",
    "write_scenario_files",
]

MODES = ("conservative", "balanced", "aggressive", "custom")
ROLLBACK_POLICIES = ("cascade", "selective", "checkpoint")
GENERATORS = ("groth16", "plonk", "stark", "mock")

_U64_MAX = 2**64 - 1


class ConfigParseError(ParseError, ConfigError):
    """TOML that cannot be read at all; both a :class:`ParseError` and a :class:`ConfigError`.

    ``line`` is the line number tomllib reported.
    """


class SizingInputError(SpecAnalysisError, ValueError):
    """A sizing-formula argument that is negative, zero where it must be positive, or not a number."""


# --------------------------------------------------------------------------- fields


def _f(default: Any, *, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A dataclass field carrying its validation rule (type from the default)."""
    return field(default=default, metadata={
        "kind": type(default), "lo": lo, "hi": hi, "choices": choices, "doc": doc,
    })


def _kind_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}[kind]


def _fmt_num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) >= 1000:
        x = int(x)
    if isinstance(x, int) and abs(x) >= 10_000:
        return f"{x:_}"
    return repr(x)


def _expected(meta: Mapping[str, Any]) -> str:
    kind, lo, hi, choices = meta["kind"], meta["lo"], meta["hi"], meta["choices"]
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    text = _kind_name(kind)
    if lo is not None and hi is not None:
        text += f" in {_fmt_num(lo)}..{_fmt_num(hi)}"
    elif lo is not None:
        text += f" >= {_fmt_num(lo)}"
    elif hi is not None:
        text += f" <= {_fmt_num(hi)}"
    return text


def _check(meta: Mapping[str, Any], value: Any) -> tuple[str | None, Any]:
    """(problem or None, value coerced to the field's type)."""
    kind = meta["kind"]
    if kind is bool:
        if not isinstance(value, bool):
            return f"{value!r} is not a boolean (expected true or false)", value
        return None, value
    if kind is str:
        if not isinstance(value, str):
            return f"{value!r} is not a string (expected {_expected(meta)})", value
        if meta["choices"] and value not in meta["choices"]:
            return f"{value!r} is not allowed (expected {_expected(meta)})", value
        return None, value
    if isinstance(value, bool):
        return f"{value!r} is a boolean, not a number (expected {_expected(meta)})", value
    if kind is int:
        if not isinstance(value, int):
            return f"{value!r} is not an integer (expected {_expected(meta)})", value
    else:  # float: integers are accepted and widened
        if not isinstance(value, int | float):
            return f"{value!r} is not a number (expected {_expected(meta)})", value
        value = float(value)
        if not math.isfinite(value):
            return f"{value!r} is not finite (expected {_expected(meta)})", value
    lo, hi = meta["lo"], meta["hi"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"{_fmt_num(value)} is out of range (expected {_expected(meta)})", value
    return None, value


class _Section:
    """Shared behaviour of the nested config sections (validation on construction)."""

    def __post_init__(self) -> None:
        problems = []
        for f in dataclasses.fields(self):
            problem, value = _check(f.metadata, getattr(self, f.name))
            if problem:
                problems.append(f"{self._prefix}{f.name}: {problem}")  # type: ignore[attr-defined]
            else:
                object.__setattr__(self, f.name, value)
        problems.extend(self._cross_check())
        if problems:
            raise ConfigError(problems)

    def _cross_check(self) -> list[str]:
        return []


@dataclass(frozen=True)
class StakeConfig(_Section):
    """``[speculation.stake]``: bonds and slashing (amounts in lamports)."""

    _prefix = "speculation.stake."
    min_stake: int = _f(1_000_000, lo=0, hi=_U64_MAX, doc="bond at depth 0 (lamports)")
    max_stake: int = _f(1_000_000_000, lo=0, hi=_U64_MAX, doc="stake locked per agent (lamports)")
    stake_per_depth: int = _f(500_000, lo=0, hi=_U64_MAX, doc="linear bond add-on per depth level")
    base_bond: int = _f(100_000, lo=0, hi=_U64_MAX, doc="base of the exponential bond form")
    depth_multiplier: float = _f(2.0, lo=1, hi=10, doc="growth factor of the exponential bond")
    slash_percentage: float = _f(0.1, lo=0.01, hi=0.5, doc="fraction slashed on failure")
    protocol_slash_share: float = _f(0.5, lo=0, hi=1, doc="share of a slash sent to the treasury")
    cooldown_period_ms: int = _f(60_000, lo=0, hi=3_600_000, doc="cooldown after a slash")

    def _cross_check(self) -> list[str]:
        if (isinstance(self.min_stake, int) and isinstance(self.max_stake, int)
                and not isinstance(self.min_stake, bool)
                and not isinstance(self.max_stake, bool)
                and self.min_stake > self.max_stake):
            return [f"speculation.stake.min_stake: {self.min_stake:_} exceeds "
                    f"max_stake {self.max_stake:_} (expected min_stake <= max_stake)"]
        return []


@dataclass(frozen=True)
class ProofConfig(_Section):
    """``[speculation.proof]``: the proof generator and its worker pool."""

    _prefix = "speculation.proof."
    generator: str = _f("groth16", choices=GENERATORS, doc="proof system")
    worker_threads: int = _f(4, lo=1, hi=32, doc="parallel proof generation threads")
    queue_size: int = _f(1000, lo=100, hi=10_000, doc="proof queue capacity")
    batch_size: int = _f(10, lo=1, hi=100, doc="proofs batched together")
    timeout_ms: int = _f(60_000, lo=10_000, hi=600_000, doc="proof generation timeout")
    max_retries: int = _f(3, lo=0, hi=10, doc="retries of a failed proof")
    retry_delay_ms: int = _f(1000, lo=100, hi=60_000, doc="first retry delay")
    retry_multiplier: float = _f(2.0, lo=1, hi=5, doc="backoff factor between retries")
    optimistic_generation: bool = _f(True, doc="start proofs before ancestors confirm")
    cache_size_mb: int = _f(512, lo=0, hi=1_048_576, doc="proof cache (MB)")


@dataclass(frozen=True)
class LimitsConfig(_Section):
    """``[speculation.limits]``: memory and bookkeeping bounds."""

    _prefix = "speculation.limits."
    max_memory_mb: int = _f(4096, lo=512, doc="memory for speculation state (MB)")
    max_pending_operations: int = _f(10_000, lo=100, hi=1_000_000, doc="pending operations held")
    max_state_snapshots: int = _f(100, lo=10, hi=10_000, doc="state snapshots kept")
    gc_interval_ms: int = _f(30_000, lo=5_000, hi=300_000, doc="garbage collection interval")
    max_commitment_age_ms: int = _f(3_600_000, lo=60_000, hi=86_400_000, doc="commitment TTL")
    max_rollback_cascade_size: int = _f(1000, lo=10, hi=10_000, doc="largest rollback cascade")


@dataclass(frozen=True)
class FeaturesConfig(_Section):
    """``[speculation.features]``: feature flags and the rollout percentage."""

    _prefix = "speculation.features."
    enable_parallel_speculation: bool = _f(True)
    enable_cross_agent_speculation: bool = _f(False)
    enable_optimistic_proofs: bool = _f(True)
    enable_stake_delegation: bool = _f(False)
    enable_on_chain_commitments: bool = _f(False)
    enable_detailed_metrics: bool = _f(False)
    rollout_percentage: float = _f(100.0, lo=0, hi=100, doc="share of traffic speculating (%)")


_SECTIONS: dict[str, type] = {
    "stake": StakeConfig, "proof": ProofConfig, "limits": LimitsConfig,
    "features": FeaturesConfig,
}

# fields whose integers read better with digit separators (lamports)
_UNDERSCORE = {"speculation.stake.min_stake", "speculation.stake.max_stake",
               "speculation.stake.stake_per_depth", "speculation.stake.base_bond"}


def _scalar_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name not in _SECTIONS]


def _all_keys() -> dict[str, Mapping[str, Any]]:
    """Dotted name (``speculation.proof.batch_size``) -> field metadata, in guide order."""
    out: dict[str, Mapping[str, Any]] = {}
    for f in _scalar_fields(SpeculationConfig):
        out[f"speculation.{f.name}"] = f.metadata
    for sec, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            out[f"speculation.{sec}.{f.name}"] = f.metadata
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _suggest(key: str, candidates: list[str], prefix: str) -> str:
    """' (did you mean ...?)' for an unknown key, or ''."""
    guess = difflib.get_close_matches(_snake(key), candidates, n=1, cutoff=0.6)
    if guess:
        return f" (did you mean {prefix}{guess[0]}?)"
    # a known key placed in the wrong section
    elsewhere = [k for k in _all_keys() if k.rsplit(".", 1)[-1] == _snake(key)]
    if elsewhere:
        return f" (did you mean {elsewhere[0]}?)"
    return ""


@dataclass(frozen=True)
class SpeculationConfig(_Section):
    """The ``[speculation]`` configuration of the runtime (frozen; validated).

    ``SpeculationConfig()`` is the runtime default. Read one with
    :meth:`from_toml`, change it with :meth:`replace` (dotted names), write it
    with :meth:`to_toml`, compare two with :meth:`diff`.

    ``mode`` is recorded as given: keys the file does not set take the runtime
    defaults, not a preset for the mode.

    Examples
    --------
    >>> cfg = SpeculationConfig()
    >>> cfg.max_depth, cfg.rollback_policy, cfg.stake.min_stake, cfg.limits.max_memory_mb
    (5, 'cascade', 1000000, 4096)
    >>> cfg.replace(max_depth=0)
    Traceback (most recent call last):
    ...
    specanalysis.errors.ConfigError: 1 problem in the configuration:
      - speculation.max_depth: 0 is out of range (expected an integer in 1..20)
    """

    _prefix = "speculation."
    enabled: bool = _f(False, doc="master switch")
    mode: str = _f("conservative", choices=MODES, doc="preset name")
    max_depth: int = _f(5, lo=1, hi=20, doc="speculative tasks chained without confirmation")
    max_parallel_branches: int = _f(4, lo=1, hi=16, doc="concurrent speculative paths")
    confirmation_timeout_ms: int = _f(30_000, lo=5_000, hi=300_000, doc="wait for on-chain confirmation")
    rollback_policy: str = _f("cascade", choices=ROLLBACK_POLICIES, doc="what a failure undoes")
    stake: StakeConfig = field(default_factory=StakeConfig)
    proof: ProofConfig = field(default_factory=ProofConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)

    def __post_init__(self) -> None:
        problems = []
        for f in _scalar_fields(type(self)):
            problem, value = _check(f.metadata, getattr(self, f.name))
            if problem:
                problems.append(f"speculation.{f.name}: {problem}")
            else:
                object.__setattr__(self, f.name, value)
        for sec, cls in _SECTIONS.items():
            if not isinstance(getattr(self, sec), cls):
                problems.append(f"speculation.{sec}: expected a {cls.__name__}, "
                                f"got {type(getattr(self, sec)).__name__}")
        if problems:
            raise ConfigError(problems)

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_toml(cls, path_or_text: str | Path, *,
                  ignore_other_tables: bool = False) -> SpeculationConfig:
        """Read a configuration from a TOML file or TOML text.

        Parameters
        ----------
        path_or_text
            A :class:`~pathlib.Path`, a string naming an existing file, or TOML text.
            A one-line string without ``=`` or ``[`` is taken as a path.
        ignore_other_tables
            Accept top-level tables other than ``[speculation]`` (a full runtime
            config file) instead of reporting them as unknown.

        Raises
        ------
        ConfigParseError
            The TOML cannot be read (``line`` from tomllib's message).
        ConfigError
            Every problem in the configuration, with dotted key names, the line
            of each key where it can be located and the file as ``source``.

        Examples
        --------
        >>> SpeculationConfig.from_toml("[speculation]\\nmode = 'balanced'").mode
        'balanced'
        >>> SpeculationConfig.from_toml('''
        ... [speculation]
        ... max_dept = 3
        ... mode = "fast"
        ... ''')
        Traceback (most recent call last):
        ...
        specanalysis.errors.ConfigError: 2 problems in the configuration:
          - line 3: speculation.max_dept: unknown key (did you mean speculation.max_depth?)
          - line 4: speculation.mode: 'fast' is not allowed (expected one of
            'conservative', 'balanced', 'aggressive', 'custom')
        """
        source: str | None = None
        if isinstance(path_or_text, str) and not path_or_text.strip():
            text = path_or_text  # empty text: "missing [speculation] table"
        elif isinstance(path_or_text, Path) or (
            isinstance(path_or_text, str) and "\n" not in path_or_text
            and "=" not in path_or_text and "[" not in path_or_text
        ) or (isinstance(path_or_text, str) and "\n" not in path_or_text
              and Path(path_or_text).is_file()):
            source = str(path_or_text)
            text = _read_config_file(path_or_text)
        elif isinstance(path_or_text, str):
            text = path_or_text
        else:
            raise ConfigError(f"expected a Path or TOML text, got "
                              f"{type(path_or_text).__name__}")
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ConfigParseError(f"invalid TOML: {exc}", source=source,
                                   line=int(m.group(1)) if m else None) from exc
        return cls.from_dict(document, source=source, _lines=_key_lines(text),
                             ignore_other_tables=ignore_other_tables)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, source: str | None = None,
                  ignore_other_tables: bool = False,
                  _lines: Mapping[str, int] | None = None) -> SpeculationConfig:
        """Build from a parsed TOML document ``{"speculation": {...}}`` (all problems at once).

        Examples
        --------
        >>> SpeculationConfig.from_dict({"speculation": {"max_depth": 3}}).max_depth
        3
        >>> SpeculationConfig.from_dict(SpeculationConfig().to_dict()) == SpeculationConfig()
        True
        """
        lines = _lines or {}
        problems: list[str] = []

        def report(key: str, text: str) -> None:
            line = lines.get(key)
            problems.append(f"line {line}: {key}: {text}" if line else f"{key}: {text}")

        if not isinstance(document, Mapping):
            raise ConfigError(f"expected a mapping, got {type(document).__name__}",
                              source=source)
        for key in document:
            if key != "speculation" and not ignore_other_tables:
                report(key, "unknown top-level key" + _suggest(key, ["speculation"], ""))
        spec = document.get("speculation")
        if spec is None:
            problems.append("missing [speculation] table")
            raise ConfigError(problems, source=source)
        if not isinstance(spec, Mapping):
            report("speculation", f"expected a table, got {spec!r}")
            raise ConfigError(problems, source=source)

        top_fields = {f.name: f for f in _scalar_fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in spec.items():
            dotted = f"speculation.{key}"
            if key in _SECTIONS:
                sec_cls = _SECTIONS[key]
                if not isinstance(value, Mapping):
                    report(dotted, f"expected a table [speculation.{key}], got {value!r}")
                    continue
                sec_fields = {f.name: f for f in dataclasses.fields(sec_cls)}
                sec_kwargs = {}
                for sub, subval in value.items():
                    sub_dotted = f"{dotted}.{sub}"
                    if sub not in sec_fields:
                        report(sub_dotted, "unknown key"
                               + _suggest(sub, list(sec_fields), f"{dotted}."))
                        continue
                    problem, coerced = _check(sec_fields[sub].metadata, subval)
                    if problem:
                        report(sub_dotted, problem)
                    else:
                        sec_kwargs[sub] = coerced
                bad_stake = any(p.startswith(f"{dotted}.m") or f" {dotted}.m" in p
                                for p in problems if "_stake" in p)
                if not bad_stake and ("min_stake" in sec_kwargs
                                      or "max_stake" in sec_kwargs):
                    lo = sec_kwargs.get("min_stake", StakeConfig.min_stake)
                    hi = sec_kwargs.get("max_stake", StakeConfig.max_stake)
                    if key == "stake" and lo > hi:
                        report(f"{dotted}.min_stake", f"{lo:_} exceeds max_stake {hi:_} "
                               "(expected min_stake <= max_stake)")
                kwargs[key] = sec_kwargs
            elif key in top_fields:
                problem, coerced = _check(top_fields[key].metadata, value)
                if problem:
                    report(dotted, problem)
                else:
                    kwargs[key] = coerced
            else:
                report(dotted, "unknown key"
                       + _suggest(key, [*top_fields, *_SECTIONS], "speculation."))
        if problems:
            raise ConfigError(problems, source=source)
        for sec, cls_ in _SECTIONS.items():
            kwargs[sec] = cls_(**kwargs.get(sec, {}))
        return cls(**kwargs)

    # ------------------------------------------------------------------ writing

    def to_dict(self, *, flat: bool = False) -> dict[str, Any]:
        """The TOML document ``{"speculation": {..., "stake": {...}, ...}}``.

        With ``flat=True``: ``{"speculation.max_depth": 5, ...}`` in guide order.

        Examples
        --------
        >>> SpeculationConfig().to_dict()["speculation"]["proof"]["batch_size"]
        10
        >>> list(SpeculationConfig().to_dict(flat=True))[:2]
        ['speculation.enabled', 'speculation.mode']
        """
        spec: dict[str, Any] = {f.name: getattr(self, f.name)
                                for f in _scalar_fields(type(self))}
        for sec in _SECTIONS:
            spec[sec] = dataclasses.asdict(getattr(self, sec))
        if not flat:
            return {"speculation": spec}
        out: dict[str, Any] = {}
        for key, value in spec.items():
            if isinstance(value, dict):
                out.update({f"speculation.{key}.{k}": v for k, v in value.items()})
            else:
                out[f"speculation.{key}"] = value
        return out

    def to_toml(self, *, header: str | None = None) -> str:
        """TOML text with every key, sections in the guide's order.

        ``header`` is written first as ``#`` comment lines.
        ``SpeculationConfig.from_toml(cfg.to_toml()) == cfg`` always holds.

        Examples
        --------
        >>> print(SpeculationConfig().to_toml().splitlines()[:3])
        ['[speculation]', 'enabled = false', 'mode = "conservative"']
        """
        out: list[str] = []
        if header:
            out.extend(f"# {line}".rstrip() for line in header.splitlines())
            out.append("")
        doc = self.to_dict()["speculation"]
        out.append("[speculation]")
        for key, value in doc.items():
            if key not in _SECTIONS:
                out.append(f"{key} = {_toml_value(value, f'speculation.{key}')}")
        for sec in _SECTIONS:
            out.append("")
            out.append(f"[speculation.{sec}]")
            for key, value in doc[sec].items():
                out.append(f"{key} = {_toml_value(value, f'speculation.{sec}.{key}')}")
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ changing

    def replace(self, **changes: Any) -> SpeculationConfig:
        """A copy with ``changes`` applied (dotted names; validated, all problems at once).

        Names are relative to ``[speculation]`` (``"max_depth"``,
        ``"proof.batch_size"``); a leading ``speculation.`` is accepted. A
        whole section may be given as its dataclass (``proof=ProofConfig(...)``).

        Examples
        --------
        >>> cfg = SpeculationConfig().replace(**{"proof.batch_size": 20, "max_depth": 3})
        >>> cfg.proof.batch_size, cfg.max_depth
        (20, 3)
        """
        doc = self.to_dict()
        spec = doc["speculation"]
        problems: list[str] = []
        known = _all_keys()
        for name, value in changes.items():
            dotted = name if name.startswith("speculation.") else f"speculation.{name}"
            parts = dotted.split(".")[1:]
            if len(parts) == 1 and parts[0] in _SECTIONS:
                if isinstance(value, _SECTIONS[parts[0]]):
                    spec[parts[0]] = dataclasses.asdict(value)
                elif isinstance(value, Mapping):
                    spec[parts[0]] = {**spec[parts[0]], **value}
                else:
                    problems.append(f"{dotted}: expected a {_SECTIONS[parts[0]].__name__} "
                                    f"or a mapping, got {value!r}")
                continue
            if dotted not in known:
                suffix = ""
                guess = difflib.get_close_matches(dotted, list(known), n=1, cutoff=0.6)
                if guess:
                    suffix = f" (did you mean {guess[0].removeprefix('speculation.')}?)"
                problems.append(f"{dotted}: unknown key{suffix}")
                continue
            target = spec
            for part in parts[:-1]:
                target = target[part]
            target[parts[-1]] = value
        if problems:
            raise ConfigError(problems)
        return type(self).from_dict(doc)

    def diff(self, other: SpeculationConfig) -> pl.DataFrame:
        """Keys whose values differ: ``parameter``, ``before`` (self), ``after`` (other).

        Values are shown as TOML literals (strings without quotes); rows in
        guide order. :meth:`diff_text` gives the same as readable text.

        Examples
        --------
        >>> a = SpeculationConfig()
        >>> a.diff(a.replace(**{"proof.batch_size": 20})).rows()
        [('speculation.proof.batch_size', '10', '20')]
        """
        if not isinstance(other, SpeculationConfig):
            raise ConfigError(f"can only diff against a SpeculationConfig, got "
                              f"{type(other).__name__}")
        before, after = self.to_dict(flat=True), other.to_dict(flat=True)
        rows = [(k, _show(before[k]), _show(after[k]))
                for k in before if before[k] != after[k]]
        return pl.DataFrame(rows, schema={"parameter": pl.String, "before": pl.String,
                                          "after": pl.String}, orient="row")

    def diff_text(self, other: SpeculationConfig) -> str:
        """The :meth:`diff` as aligned text lines ``key: before -> after``.

        Examples
        --------
        >>> a = SpeculationConfig()
        >>> print(a.diff_text(a.replace(max_depth=3, rollback_policy="selective")))
        speculation.max_depth       : 5 -> 3
        speculation.rollback_policy : cascade -> selective
        """
        frame = self.diff(other)
        if frame.height == 0:
            return "(no differences)"
        width = max(len(p) for p in frame["parameter"])
        return "\n".join(f"{p:<{width}} : {b} -> {a}" for p, b, a in frame.iter_rows())

    def warnings(self, *, avg_state_mb: float = 200.0) -> list[str]:
        """Soft cross-field issues (not errors), as readable sentences.

        Checks ``max_state_snapshots`` against the guide's snapshot formula and
        ``max_memory_mb`` against the memory formula (``avg_state_mb`` per branch,
        the guide's example 200 MB).

        Examples
        --------
        >>> SpeculationConfig().warnings()
        []
        >>> SpeculationConfig().replace(max_depth=8, max_parallel_branches=8).warnings()
        ['speculation.limits.max_state_snapshots = 100 is below the guide formula
          max_depth x max_parallel_branches x 2.5 = 160']
        """
        out = []
        need = state_snapshots(self.max_depth, self.max_parallel_branches)
        if self.limits.max_state_snapshots < need:
            out.append(f"speculation.limits.max_state_snapshots = "
                       f"{self.limits.max_state_snapshots} is below the guide formula "
                       f"max_depth x max_parallel_branches x 2.5 = {need}")
        mem = required_memory_mb(self.max_parallel_branches, avg_state_mb,
                                 self.limits.max_pending_operations,
                                 self.proof.cache_size_mb)
        if self.limits.max_memory_mb < mem.total_mb:
            out.append(f"speculation.limits.max_memory_mb = {self.limits.max_memory_mb} "
                       f"is below the guide's memory formula ({mem.total_mb:.0f} MB with "
                       f"{avg_state_mb:g} MB per branch; recommended {mem.recommended_mb})")
        return out


def _read_config_file(path: str | Path) -> str:
    """The text of a TOML file: a regular file, at most ``LIMITS.max_config_bytes``, UTF-8."""
    from specanalysis.limits import read_file

    source = str(path)
    try:
        data = read_file(path, what="a TOML file with a [speculation] table",
                         limit="max_config_bytes")
    except LimitError:
        raise
    except SpecAnalysisError as exc:
        raise ConfigError(exc.message, source=source) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigParseError(f"not UTF-8 (byte {exc.start})", source=source, line=line,
                               expected="a UTF-8 TOML file") from None


def _toml_value(value: Any, dotted: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if dotted in _UNDERSCORE else str(value)
    if isinstance(value, float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _show(value: Any) -> str:
    return value if isinstance(value, str) else _toml_value(value, "")


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s]+?)\s*\]\s*(?:#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Best-effort map dotted key -> 1-based line (simple ``[table]`` / ``key =`` layouts)."""
    out: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            table = ".".join(p.strip() for p in m.group(1).split("."))
            out.setdefault(table, number)
            continue
        m = _ASSIGN.match(line)
        if m:
            key = f"{table}.{m.group(1)}" if table else m.group(1)
            out.setdefault(key, number)
    return out


# --------------------------------------------------------------------------- sizing


def _number(name: str, value: Any, *, positive: bool = False, integer: bool = False) -> float:
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        raise SizingInputError(f"{value!r} is not {kind}", field=name,
                               expected=f"{kind} {'> 0' if positive else '>= 0'}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise SizingInputError(f"{value!r} is out of range", field=name,
                               expected=f"{kind} {'> 0' if positive else '>= 0'}")
    return value


def _ceil(x: float) -> int:
    return math.ceil(round(x, 9))


@dataclass(frozen=True)
class MemorySizing:
    """The guide's memory formula, term by term (all in MB).

    ``total_mb`` is the raw sum including the buffer; ``recommended_mb`` is it
    rounded up to a power of two (or to a whole MB).
    """

    state_mb: float
    pending_ops_mb: float
    proof_cache_mb: float
    buffer_mb: float
    total_mb: float
    recommended_mb: int

    def __str__(self) -> str:
        return (f"{self.state_mb:g} + {self.pending_ops_mb:g} + {self.proof_cache_mb:g} "
                f"+ {self.buffer_mb:g} = {self.total_mb:g} MB -> {self.recommended_mb} MB")


def required_memory_mb(branches: int, avg_state_mb: float, pending_ops: int,
                       proof_cache_mb: float, *, buffer: float = 0.2,
                       kb_per_op: float = 1.0,
                       round_to_power_of_two: bool = True) -> MemorySizing:
    """The guide's ``limits.max_memory_mb`` sizing formula.

    ``branches x avg_state_mb + pending_ops x kb_per_op + proof_cache_mb``,
    plus ``buffer`` (20 %) of that sum, rounded up to a power of two. Like the
    guide, KB are converted to MB decimally (1000 KB = 1 MB), so 10 000 ops x
    1 KB = 10 MB.

    Examples
    --------
    The guide's worked example (4 x 200 + 10 + 512 + 264 = 1586 -> 2048):

    >>> m = required_memory_mb(4, 200, 10_000, 512)
    >>> m.state_mb, m.pending_ops_mb, m.buffer_mb, m.total_mb, m.recommended_mb
    (800.0, 10.0, 264.4, 1586.4, 2048)
    >>> print(m)
    800 + 10 + 512 + 264.4 = 1586.4 MB -> 2048 MB
    """
    b = _number("branches", branches, positive=True, integer=True)
    s = _number("avg_state_mb", avg_state_mb)
    p = _number("pending_ops", pending_ops, integer=True)
    c = _number("proof_cache_mb", proof_cache_mb)
    f = _number("buffer", buffer)
    k = _number("kb_per_op", kb_per_op)
    state = float(b * s)
    pending = round(p * k / 1000.0, 9)
    subtotal = state + pending + float(c)
    buf = round(subtotal * f, 9)
    total = round(subtotal + buf, 9)
    if round_to_power_of_two:
        rec = 1 if total <= 1 else 2 ** math.ceil(math.log2(total))
    else:
        rec = _ceil(total)
    return MemorySizing(state, pending, float(c), buf, total, int(rec))


def state_snapshots(max_depth: int, branches: int, safety_factor: float = 2.5) -> int:
    """``max_depth x max_parallel_branches x safety_factor``, rounded up.

    Examples
    --------
    >>> state_snapshots(5, 4)
    50
    """
    d = _number("max_depth", max_depth, positive=True, integer=True)
    b = _number("branches", branches, positive=True, integer=True)
    s = _number("safety_factor", safety_factor)
    return _ceil(d * b * s)


def max_pending_operations(peak_task_rate_per_s: float, confirmation_timeout_s: float,
                           *, factor: float = 2.0) -> int:
    """``peak_task_rate x confirmation_timeout_s x 2``, rounded up.

    Examples
    --------
    >>> max_pending_operations(100, 60)
    12000
    """
    r = _number("peak_task_rate_per_s", peak_task_rate_per_s)
    t = _number("confirmation_timeout_s", confirmation_timeout_s)
    f = _number("factor", factor)
    return _ceil(r * t * f)


def gc_interval_ms(confirmation_timeout_ms: float) -> int:
    """``max(5000, confirmation_timeout_ms / 4)``, rounded up.

    Examples
    --------
    >>> gc_interval_ms(60_000), gc_interval_ms(15_000)
    (15000, 5000)
    """
    t = _number("confirmation_timeout_ms", confirmation_timeout_ms)
    return max(5000, _ceil(t / 4))


def proof_queue_size(peak_task_rate_per_s: float, avg_proof_time_s: float, *,
                     factor: float = 3.0) -> int:
    """``peak_task_rate x avg_proof_time_s x 3``, rounded up.

    Examples
    --------
    >>> proof_queue_size(100, 30)
    9000
    """
    r = _number("peak_task_rate_per_s", peak_task_rate_per_s)
    t = _number("avg_proof_time_s", avg_proof_time_s)
    f = _number("factor", factor)
    return _ceil(r * t * f)


def sizing_for(config: SpeculationConfig, *, peak_task_rate: float,
               avg_state_mb: float = 200.0, avg_proof_time_s: float = 30.0) -> pl.DataFrame:
    """Each sized limit of ``config`` next to the guide formula's value.

    Parameters
    ----------
    config
        The configuration to check.
    peak_task_rate
        Peak tasks per second.
    avg_state_mb
        State per branch (the guide: ~100-200 MB; its example uses 200).
    avg_proof_time_s
        Mean proof generation time (the guide's example: 30 s).

    Returns
    -------
    polars.DataFrame
        ``parameter`` (dotted), ``configured``, ``recommended`` (Int64),
        ``formula`` (the arithmetic), ``ratio`` (configured / recommended) and
        ``status`` (``"below"``, ``"matches"``, ``"above"``). The memory row
        uses the configured pending operations and proof cache.

    Examples
    --------
    >>> t = sizing_for(SpeculationConfig(), peak_task_rate=100)
    >>> t.select("parameter", "configured", "recommended").rows()[:2]
    [('speculation.limits.max_memory_mb', 4096, 2048),
     ('speculation.limits.max_state_snapshots', 100, 50)]
    """
    if not isinstance(config, SpeculationConfig):
        raise SizingInputError(f"expected a SpeculationConfig, got {type(config).__name__}",
                               field="config")
    rate = _number("peak_task_rate", peak_task_rate)
    lim = config.limits
    timeout_s = config.confirmation_timeout_ms / 1000
    mem = required_memory_mb(config.max_parallel_branches, avg_state_mb,
                             lim.max_pending_operations, config.proof.cache_size_mb)
    rows = [
        ("speculation.limits.max_memory_mb", lim.max_memory_mb, mem.recommended_mb,
         f"({config.max_parallel_branches} x {avg_state_mb:g} MB) + "
         f"({lim.max_pending_operations} ops x 1 KB) + {config.proof.cache_size_mb} MB "
         f"+ 20% = {mem.total_mb:g} MB -> {mem.recommended_mb}"),
        ("speculation.limits.max_state_snapshots", lim.max_state_snapshots,
         state_snapshots(config.max_depth, config.max_parallel_branches),
         f"{config.max_depth} x {config.max_parallel_branches} x 2.5"),
        ("speculation.limits.max_pending_operations", lim.max_pending_operations,
         max_pending_operations(rate, timeout_s),
         f"{rate:g}/s x {timeout_s:g}s x 2"),
        ("speculation.limits.gc_interval_ms", lim.gc_interval_ms,
         gc_interval_ms(config.confirmation_timeout_ms),
         f"max(5000, {config.confirmation_timeout_ms} / 4)"),
        ("speculation.proof.queue_size", config.proof.queue_size,
         proof_queue_size(rate, _number("avg_proof_time_s", avg_proof_time_s)),
         f"{rate:g}/s x {avg_proof_time_s:g}s x 3"),
    ]
    frame = pl.DataFrame(rows, schema={"parameter": pl.String, "configured": pl.Int64,
                                       "recommended": pl.Int64, "formula": pl.String},
                         orient="row")
    return frame.with_columns(
        ratio=pl.when(pl.col("recommended") > 0)
        .then(pl.col("configured") / pl.col("recommended")),
        status=pl.when(pl.col("configured") < pl.col("recommended")).then(pl.lit("below"))
        .when(pl.col("configured") == pl.col("recommended")).then(pl.lit("matches"))
        .otherwise(pl.lit("above")),
    )


# --------------------------------------------------------------------------- scenarios

_OPS = ("<", "<=", ">", ">=", "between", "note")


@dataclass(frozen=True)
class Scenario:
    """One of the guide's scenario configurations and its expected metrics.

    ``expected`` maps a metric name to ``(op, value)``, ``("between", lo, hi)``
    or ``("note", text)`` for qualitative expectations; ``expected_text`` holds
    the guide's own wording.
    """

    name: str
    title: str
    goal: str
    config: SpeculationConfig
    expected: dict[str, tuple]
    expected_text: tuple[str, ...]

    def describe(self) -> str:
        """Title, goal and expected metrics as text.

        Examples
        --------
        >>> print(SCENARIOS["cost-optimized"].describe())
        Cost Optimized (cost-optimized)
        Goal: Minimize resource usage while maintaining functionality
        Expected:
          - p99 latency: 3-5s
          - Rollback rate: < 5%
          - Memory usage: 1-2 GB
          - CPU usage: Minimal
        """
        lines = [f"{self.title} ({self.name})", f"Goal: {self.goal}", "Expected:"]
        lines.extend(f"  - {t}" for t in self.expected_text)
        return "\n".join(lines)

    def check(self, observed: Mapping[str, float]) -> pl.DataFrame:
        """Compare observed metrics with the expectations.

        Returns ``metric``, ``expected`` (text), ``observed`` (Float64, null when
        not given) and ``passed`` (Boolean, null when not measurable).

        Examples
        --------
        >>> s = SCENARIOS["low-latency-trading"]
        >>> s.check({"latency_p99_s": 1.5, "rollback_rate_pct": 9.0}).rows()
        [('latency_p99_s', '< 2.0', 1.5, True),
         ('rollback_rate_pct', '< 8.0', 9.0, False),
         ('memory_gb', 'between 8.0 and 12.0', None, None)]
        """
        rows = []
        for metric, rule in self.expected.items():
            op, *args = rule
            value = observed.get(metric)
            passed = None
            if op == "note":
                text = str(args[0])
            elif op == "between":
                text = f"between {args[0]} and {args[1]}"
                if value is not None:
                    passed = args[0] <= value <= args[1]
            else:
                text = f"{op} {args[0]}"
                if value is not None:
                    passed = {"<": value < args[0], "<=": value <= args[0],
                              ">": value > args[0], ">=": value >= args[0]}[op]
            rows.append((metric, text, None if value is None else float(value), passed))
        return pl.DataFrame(rows, schema={"metric": pl.String, "expected": pl.String,
                                          "observed": pl.Float64, "passed": pl.Boolean},
                            orient="row")


def _scenario(name: str, title: str, goal: str, changes: dict[str, Any],
              expected: dict[str, tuple], expected_text: tuple[str, ...]) -> Scenario:
    for rule in expected.values():
        assert rule[0] in _OPS
    return Scenario(name, title, goal, SpeculationConfig().replace(**changes),
                    expected, expected_text)


# Transcribed from the tuning guide's four TOML blocks (keys it leaves out keep
# the runtime defaults); tests/test_config.py checks them against the guide.
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    _scenario(
        "low-latency-trading", "Low Latency Trading",
        "Minimize end-to-end latency, accept higher rollback cost",
        {"enabled": True, "mode": "aggressive", "max_depth": 8,
         "max_parallel_branches": 8, "confirmation_timeout_ms": 15000,
         "rollback_policy": "selective",
         "stake.min_stake": 500_000, "stake.stake_per_depth": 50_000,
         "stake.slash_percentage": 0.05,
         "proof.generator": "groth16", "proof.worker_threads": 16,
         "proof.queue_size": 5000, "proof.batch_size": 5, "proof.timeout_ms": 30000,
         "limits.max_memory_mb": 16384, "limits.max_pending_operations": 100000,
         "limits.gc_interval_ms": 5000,
         "features.enable_parallel_speculation": True,
         "features.enable_cross_agent_speculation": True,
         "features.enable_optimistic_proofs": True},
        {"latency_p99_s": ("<", 2.0), "rollback_rate_pct": ("<", 8.0),
         "memory_gb": ("between", 8.0, 12.0)},
        ("p99 latency: < 2s", "Rollback rate: < 8%", "Memory usage: 8-12 GB"),
    ),
    _scenario(
        "high-reliability", "High Reliability / Conservative",
        "Minimize rollbacks and stake risk, accept higher latency",
        {"enabled": True, "mode": "conservative", "max_depth": 2,
         "max_parallel_branches": 2, "confirmation_timeout_ms": 90000,
         "rollback_policy": "cascade",
         "stake.min_stake": 2_000_000, "stake.stake_per_depth": 1_000_000,
         "stake.slash_percentage": 0.15, "stake.cooldown_period_ms": 600000,
         "proof.generator": "groth16", "proof.worker_threads": 4,
         "proof.queue_size": 1000, "proof.batch_size": 20, "proof.timeout_ms": 180000,
         "limits.max_memory_mb": 4096, "limits.max_pending_operations": 10000,
         "limits.gc_interval_ms": 30000,
         "features.enable_parallel_speculation": False,
         "features.enable_cross_agent_speculation": False,
         "features.enable_optimistic_proofs": False},
        {"latency_p99_s": ("between", 5.0, 10.0), "rollback_rate_pct": ("<", 1.0),
         "memory_gb": ("between", 2.0, 3.0)},
        ("p99 latency: 5-10s", "Rollback rate: < 1%", "Memory usage: 2-3 GB"),
    ),
    _scenario(
        "cost-optimized", "Cost Optimized",
        "Minimize resource usage while maintaining functionality",
        {"enabled": True, "mode": "balanced", "max_depth": 3,
         "max_parallel_branches": 2, "confirmation_timeout_ms": 60000,
         "rollback_policy": "cascade",
         "stake.min_stake": 1_000_000, "stake.stake_per_depth": 200_000,
         "stake.slash_percentage": 0.1,
         "proof.generator": "groth16", "proof.worker_threads": 2,
         "proof.queue_size": 500, "proof.batch_size": 30, "proof.timeout_ms": 120000,
         "limits.max_memory_mb": 2048, "limits.max_pending_operations": 5000,
         "limits.max_state_snapshots": 25, "limits.gc_interval_ms": 10000,
         "features.enable_parallel_speculation": True,
         "features.enable_cross_agent_speculation": False,
         "features.enable_optimistic_proofs": True},
        {"latency_p99_s": ("between", 3.0, 5.0), "rollback_rate_pct": ("<", 5.0),
         "memory_gb": ("between", 1.0, 2.0), "cpu_usage": ("note", "minimal")},
        ("p99 latency: 3-5s", "Rollback rate: < 5%", "Memory usage: 1-2 GB",
         "CPU usage: Minimal"),
    ),
    _scenario(
        "burst-traffic", "Burst Traffic Handling",
        "Handle 10x traffic spikes without degradation",
        {"enabled": True, "mode": "balanced", "max_depth": 5,
         "max_parallel_branches": 16, "confirmation_timeout_ms": 45000,
         "rollback_policy": "selective",
         "stake.min_stake": 1_000_000, "stake.stake_per_depth": 300_000,
         "stake.slash_percentage": 0.08,
         "proof.generator": "groth16", "proof.worker_threads": 12,
         "proof.queue_size": 10000, "proof.batch_size": 40, "proof.timeout_ms": 90000,
         "limits.max_memory_mb": 12288, "limits.max_pending_operations": 75000,
         "limits.max_state_snapshots": 200, "limits.gc_interval_ms": 10000,
         "features.enable_parallel_speculation": True,
         "features.enable_cross_agent_speculation": False,
         "features.enable_optimistic_proofs": True},
        {"load_multiplier_handled": (">=", 10.0), "latency_p99_s": ("<", 5.0),
         "latency_p99_burst_s": ("<", 15.0),
         "degradation": ("note", "graceful degradation, not failure")},
        ("Handles 10x normal traffic",
         "p99 latency: < 5s at baseline, < 15s during burst",
         "Graceful degradation, not failure"),
    ),
)}


#: The classification matrix's cells (name -> :class:`~specanalysis.matrix.Quadrant`),
#: from the one matrix of :mod:`specanalysis.matrix` (boundaries and settings together).
QUADRANTS: dict[str, Quadrant] = MATRIX.quadrants


def write_scenario_files(directory: str | Path) -> list[Path]:
    """Write the four scenarios as ``<name>.toml`` (full configs, deterministic bytes).

    Each file starts with comment lines naming the scenario, its goal and the
    expected metrics; :meth:`SpeculationConfig.from_toml` reads it back to
    ``SCENARIOS[name].config``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_scenario_files(d)
    ...     [p.name for p in paths]
    ...     SpeculationConfig.from_toml(paths[0]) == SCENARIOS["low-latency-trading"].config
    ['low-latency-trading.toml', 'high-reliability.toml', 'cost-optimized.toml',
     'burst-traffic.toml']
    True
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for scenario in SCENARIOS.values():
        header = (f"Scenario: {scenario.title} ({scenario.name})\n"
                  f"Goal: {scenario.goal}\n"
                  "Expected: " + "; ".join(scenario.expected_text) + "\n"
                  "Generated by specanalysis.config.write_scenario_files from the tuning "
                  "guide; unset keys are runtime defaults.")
        path = directory / f"{scenario.name}.toml"
        path.write_bytes(scenario.config.to_toml(header=header).encode("utf-8"))
        paths.append(path)
    return paths
