"""Read Prometheus' promqltest files and translate their queries into the query vocabulary.

The files (``load`` blocks in expanding notation, ``eval instant``/``eval range``
with expected series, ``clear``) are read from ``../shared/promqltest/<version>``
next to the repository; they are test data and are never copied here.

An eval is *expressible* when its query uses only what
:mod:`specanalysis.query` builds (selectors with ``= != =~ !~``, the range
functions, ``histogram_quantile`` with a constant quantile, ``sum avg min max
count`` with ``by``/``without``, ``scalar``, ``+ - * /`` with ``on``/``ignoring``,
number literals, unary minus and plus) and the series it selects are ones a
samples frame holds: float samples of named series. Left out are the series
with native histograms (``{{...}}``, and the ``x`` histograms that
``load_with_nhcb`` makes from ``x_bucket``/``x_count``/``x_sum``), with start
timestamps (``@st``) or with the type-and-unit labels; a series with staleness
markers is held without them, which is exact inside range functions
(Prometheus' range selectors skip markers), so only an instant selector of such
a series leaves its eval out. Everything else raises :class:`Unsupported` with
the reason, so the count of expressible evals grows with the vocabulary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from specanalysis import query as q

ROOT = Path(__file__).resolve().parents[2]
PROMQLTEST = ROOT.parent / "shared" / "promqltest"
#: promqltest folder -> OfflineSource semantics of that Prometheus version
VERSIONS = {"v2.42.0": "prom2", "v3.14.0": "prom3"}
EPSILON = 1e-6  # promqltest's tolerance (relative)
MIN_NORMAL = 2.2250738585072014e-308
#: labels with a meaning of their own behind Prometheus' type-and-unit feature flag
RESERVED = frozenset({"__type__", "__unit__"})


class Unsupported(Exception):
    """The eval uses something outside the query vocabulary or the samples frame."""


#: a staleness marker in expanded values (``stale``); see :func:`expand_values`
STALE = "stale"


# ------------------------------------------------------------------ values


def parse_number(text: str) -> float:
    t = text.strip()
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    try:
        return float(t)
    except ValueError:
        pass
    if low.startswith("0x"):
        sign = -1 if t.startswith("-") else 1
        return sign * float(int(low, 16))
    raise Unsupported(f"number {text!r}")


_DUR = re.compile(r"^(\d+(?:ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
            "w": 604_800_000, "y": 31_536_000_000}


def parse_time_ms(text: str) -> int:
    """A promqltest time or duration (``50m``, ``1h30m``, ``0``, ``10``=seconds) in ms."""
    t = text.strip()
    if _DUR.match(t):
        return sum(int(n) * _UNIT_MS[u] for n, u in _PART.findall(t))
    try:
        return round(float(t) * 1000)
    except ValueError:
        raise Unsupported(f"time {text!r}") from None


def expand_values(tokens: list[str], *, stale: bool = False) -> list[float | str | None]:
    """Expanding notation: ``1+2x3`` -> 1 3 5 7; ``_`` and ``_x3`` -> gaps; ``5`` -> 5.

    ``stale`` becomes :data:`STALE` where ``stale=True`` (load lines), else it is
    :class:`Unsupported`; native histograms (``{{...}}``) always are.
    """
    out: list[float | str | None] = []
    for tok in tokens:
        if tok == "stale" and stale:
            out.append(STALE)
            continue
        if tok.startswith("{{"):
            raise Unsupported("native histograms in the data")
        if tok == "stale":
            raise Unsupported("staleness markers in the data")
        if tok == "_":
            out.append(None)
            continue
        m = re.match(r"^_x(\d+)$", tok)
        if m:
            out.extend([None] * int(m.group(1)))
            continue
        m = re.match(r"^(.+)x(\d+)$", tok)
        if m:  # in load notation 0x10 is "0, eleven times", never hex
            body, n = m.group(1), int(m.group(2))
            split = None
            for i in range(1, len(body)):
                if body[i] in "+-" and body[i - 1] not in "eE":
                    split = i
            if split is None:
                a, b = parse_number(body), 0.0
            else:
                a = parse_number(body[:split])
                b = parse_number(body[split + 1:]) * (-1 if body[split] == "-" else 1)
            out.extend(a + b * k for k in range(n + 1))
            continue
        out.append(parse_number(tok))
    return out


# ------------------------------------------------------------------ lexer

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>\[[^\]]*\])
  | (?P<durlit>\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*(?![a-zA-Z0-9_:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![a-zA-Z_:]))
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>(){},@])
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:.]*)
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "xuU":
                raise Unsupported("escape sequence in a string")
            raise Unsupported("unknown escape")
        out.append(c)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise Unsupported(f"cannot read {text[pos:pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(kind)))
    return out


# ------------------------------------------------------------------ parser

_AGGS = {"sum", "avg", "min", "max", "count"}
_OTHER_AGGS = {"topk", "bottomk", "quantile", "stddev", "stdvar", "group", "count_values",
               "limitk", "limit_ratio"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "and", "or", "unless", "atan2"}


def _constant(expr: q.Expr) -> float:
    """The value of a number literal or of arithmetic on literals (``1./6.``)."""
    if isinstance(expr, q.Number):
        return expr.value
    if isinstance(expr, q.BinaryOp):
        a, b = _constant(expr.lhs), _constant(expr.rhs)
        if expr.op == "/":  # IEEE division, as Go's: x/0 is +-Inf or NaN
            return a / b if b else (math.nan if a == 0 or math.isnan(a)
                                    else math.copysign(math.inf, a) * math.copysign(1, b))
        return {"+": a + b, "-": a - b, "*": a * b}[expr.op]
    raise Unsupported("a quantile that is not a constant")


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise Unsupported("unexpected end")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise Unsupported(f"expected {value!r}, got {tok[1]!r}")

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1].lower() == value

    def parse(self) -> q.Expr:
        expr = self.additive()
        if self.peek() is not None:
            raise Unsupported(f"operator or token {self.peek()[1]!r}")
        return expr

    def _matching(self) -> dict:
        kw: dict = {}
        for name in ("on", "ignoring"):
            if self.at(name):
                self.take()
                kw[name] = self.labels()
        for tok in ("group_left", "group_right", "bool"):
            if self.at(tok):
                raise Unsupported(tok)
        return kw

    def additive(self) -> q.Expr:
        lhs = self.multiplicative()
        while self.peek() and self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            kw = self._matching()
            lhs = q.binop(lhs, op, self.multiplicative(), **kw)
        return self._no_lower_ops(lhs)

    def _no_lower_ops(self, expr: q.Expr) -> q.Expr:
        tok = self.peek()
        if tok is not None and tok[1].lower() in ("smoothed", "anchored"):
            raise Unsupported("extended range selector (smoothed, anchored)")
        if tok is not None and (tok[1] in ("==", "!=", ">", "<", ">=", "<=")
                                or tok[1].lower() in ("and", "or", "unless")):
            raise Unsupported(f"operator {tok[1]}")
        return expr

    def multiplicative(self) -> q.Expr:
        lhs = self.unary()
        while self.peek() and self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            if op == "%":
                raise Unsupported("operator %")
            kw = self._matching()
            lhs = q.binop(lhs, op, self.unary(), **kw)
        return lhs

    def unary(self) -> q.Expr:
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            inner = self.unary()
            if tok[1] == "+":  # a no-op in PromQL (the metric name stays)
                return inner
            if isinstance(inner, q.Number):
                return q.number(-inner.value)
            return q.binop(-1, "*", inner)
        expr = self.primary()
        if self.peek() and self.peek()[1] == "^":
            raise Unsupported("operator ^")
        return expr

    def labels(self) -> list[str]:
        self.expect("(")
        names = []
        while not (self.peek() and self.peek()[1] == ")"):
            kind, value = self.take()
            if kind != "ident":
                raise Unsupported("quoted label name")
            names.append(value)
            if self.peek() and self.peek()[1] == ",":
                self.take()
        self.expect(")")
        return names

    def primary(self) -> q.Expr:
        kind, value = self.take()
        if kind == "number":
            return q.number(parse_number(value))
        if kind == "string":
            raise Unsupported("string literal")
        if kind == "duration":
            raise Unsupported("range/subquery")
        if kind == "durlit":
            raise Unsupported("duration literal (offset, @ or a duration expression)")
        if value == "(":
            inner = self.additive()
            self.expect(")")
            return self._no_suffix(inner)
        if value == "{":
            self.i -= 1
            return self._no_suffix(self.selector(None))
        if kind != "ident":
            raise Unsupported(f"token {value!r}")
        low = value.lower()
        if low in ("inf", "nan"):
            return q.number(parse_number(value))
        if low in _AGGS and self.peek() and (
                self.peek()[1] == "(" or self.peek()[1].lower() in ("by", "without")):
            return self._no_suffix(self.aggregation(low))
        if low in _OTHER_AGGS and self.peek() and (
                self.peek()[1] == "(" or self.peek()[1].lower() in ("by", "without")):
            raise Unsupported(f"aggregation {value}")
        if self.peek() and self.peek()[1] == "(":
            return self._no_suffix(self.function(value))
        if low in _KEYWORDS:
            raise Unsupported(f"keyword {value}")
        return self._no_suffix(self.selector(value))

    def _no_suffix(self, expr: q.Expr) -> q.Expr:
        tok = self.peek()
        if tok is not None and (tok[0] == "duration" or tok[1] == "@"
                                or tok[1].lower() == "offset"):
            raise Unsupported("range, subquery, offset or @")
        return expr

    def aggregation(self, op: str) -> q.Expr:
        by = without = None
        if self.at("by") or self.at("without"):
            which = self.take()[1].lower()
            names = self.labels()
            by, without = (names, None) if which == "by" else (None, names)
        self.expect("(")
        inner = self.additive()
        if self.peek() and self.peek()[1] == ",":
            raise Unsupported("aggregation parameter")
        self.expect(")")
        if self.at("by") or self.at("without"):
            if by is not None or without is not None:
                raise Unsupported("two grouping clauses")
            which = self.take()[1].lower()
            names = self.labels()
            by, without = (names, None) if which == "by" else (None, names)
        if inner.kind != "vector":
            raise Unsupported("aggregation of a scalar")
        return q.aggregate(op, inner, by=by, without=without)

    def function(self, name: str) -> q.Expr:
        self.expect("(")
        if name in q.RANGE_FUNCTIONS:
            parens = 0
            while self.peek() and self.peek()[1] == "(":  # rate((x[5m])) is rate(x[5m])
                self.take()
                parens += 1
            kind, sel_name = self.take()
            if kind == "ident":
                sel = self.selector(sel_name, allow_range=True)
            elif sel_name == "{":
                self.i -= 1
                sel = self.selector(None, allow_range=True)
            else:
                raise Unsupported(f"{name} of an expression")
            if not isinstance(sel, tuple):
                raise Unsupported(f"{name} of an expression (a subquery)")
            if self.peek() and self.peek()[1].lower() in ("smoothed", "anchored"):
                raise Unsupported("extended range selector (smoothed, anchored)")
            for _ in range(parens):
                self.expect(")")
            self.expect(")")
            selector, window = sel
            return q.range_function(name, selector, window)
        if name == "histogram_quantile":
            phi = _constant(self.additive())
            self.expect(",")
            inner = self.additive()
            self.expect(")")
            if inner.kind != "vector":
                raise Unsupported("histogram_quantile of a scalar")
            return q.histogram_quantile(phi, inner)
        if name == "scalar":
            inner = self.additive()
            self.expect(")")
            if inner.kind != "vector":
                raise Unsupported("scalar of a scalar")
            return q.scalar(inner)
        raise Unsupported(f"function {name}")

    def selector(self, name: str | None, *, allow_range: bool = False):
        matchers: list[tuple[str, str, str]] = []
        if self.peek() and self.peek()[1] == "{":
            self.take()
            while not (self.peek() and self.peek()[1] == "}"):
                kind, label = self.take()
                if kind != "ident":
                    raise Unsupported("quoted label or metric name in braces")
                op = self.take()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise Unsupported(f"matcher op {op}")
                skind, sval = self.take()
                if skind != "string":
                    raise Unsupported("matcher value is not a string")
                value = _unquote(sval)
                if label == "__name__":
                    if op != "=" or name is not None:
                        raise Unsupported("__name__ matcher")
                    name = value
                else:
                    matchers.append((label, op, value))
                if self.peek() and self.peek()[1] == ",":
                    self.take()
            self.expect("}")
        if name is None:
            raise Unsupported("selector without a metric name")
        try:
            sel = q.metric(name, matchers=matchers)
        except q.QueryError as exc:
            raise Unsupported(f"selector: {exc}") from None
        tok = self.peek()
        if tok is not None and tok[0] == "duration":
            if not allow_range:
                raise Unsupported("range vector result")
            self.take()
            inner = tok[1][1:-1].strip()
            if ":" in inner:
                raise Unsupported("subquery")
            if re.fullmatch(r"\d+(\.\d+)?", inner):  # Prometheus 3: seconds
                window = float(inner)
            elif _DUR.match(inner):
                window = parse_time_ms(inner) / 1000
            else:
                raise Unsupported("duration expression in a range")
            nxt = self.peek()
            if nxt is not None and (nxt[1] == "@" or nxt[1].lower() == "offset"):
                raise Unsupported("offset or @")
            return sel, window
        if tok is not None and (tok[1] == "@" or tok[1].lower() == "offset"):
            raise Unsupported("offset or @")
        return sel


def selectors(expr: q.Expr, in_range: bool = False):
    """Every selector of an expression, with whether a range function holds it."""
    if isinstance(expr, q.Selector):
        yield expr, in_range
        return
    in_range = in_range or isinstance(expr, q.RangeFunction)
    for name in ("selector", "expr", "lhs", "rhs"):
        child = getattr(expr, name, None)
        if isinstance(child, q.Expr):
            yield from selectors(child, in_range)


def _selects(sel: q.Selector, labels: Mapping[str, str]) -> bool:
    return labels.get("__name__") == sel.name and all(
        m.matches(labels.get(m.label)) for m in sel.matchers)


def translate(text: str, bad_series: Sequence[tuple[dict, str]] = (),
              stale_series: Sequence[dict] = ()) -> q.Expr:
    """The query vocabulary expression for PromQL ``text`` (or :class:`Unsupported`).

    ``bad_series`` are series (labels, reason) whose data a samples frame cannot
    hold (native histograms, start timestamps): a query selecting any is not
    expressible. ``stale_series`` have staleness markers, which the frame leaves
    out: exact inside range functions (Prometheus' range selectors skip them),
    wrong under an instant selector, which a marker ends.
    """
    try:
        expr = _Parser(text).parse()
    except Unsupported:
        raise
    except (q.QueryError, ValueError, IndexError) as exc:
        raise Unsupported(f"cannot build: {exc}") from None
    for sel, in_range in selectors(expr):
        for labels, reason in bad_series:
            if _selects(sel, labels):
                raise Unsupported(f"data: {reason}")
        if not in_range and any(_selects(sel, lab) for lab in stale_series):
            raise Unsupported("data: staleness markers under an instant selector")
    return expr


def translate_eval(ev: Eval) -> q.Expr:
    """:func:`translate` of an eval's query against the data it runs on."""
    if ev.unsupported:
        raise Unsupported(ev.unsupported)
    return translate(ev.expr, ev.bad_series, ev.stale_series)


def expressible(ev: Eval) -> bool:
    return exclusion(ev) is None


def exclusion(ev: Eval) -> str | None:
    """Why an eval is not run (None when it is expressible)."""
    try:
        translate_eval(ev)
    except Unsupported as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ files


@dataclass
class Series:
    labels: dict[str, str]
    points: list[tuple[int, float]]


@dataclass
class Eval:
    file: str
    line: int
    expr: str
    start_ms: int
    end_ms: int
    step_ms: int
    is_range: bool
    fail: bool = False
    ordered: bool = False
    expected: list[tuple[dict[str, str] | None, list[float | None]]] = field(
        default_factory=list)
    data: list[Series] = field(default_factory=list)  # the storage at this eval
    data_id: int = 0
    unsupported: str | None = None
    # series (labels, reason) whose data a frame cannot hold (native histograms,
    # start timestamps), and series with staleness markers (see translate)
    bad_series: list[tuple[dict, str]] = field(default_factory=list)
    stale_series: list[dict] = field(default_factory=list)


def _series_descriptor(text: str) -> tuple[dict[str, str] | None, str]:
    """``metric{a="b"}`` (or ``{...}``) at the start of ``text``: labels and the rest."""
    toks_text = text.strip()
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*", toks_text)
    name = m.group(1)
    rest = toks_text[m.end():]
    labels: dict[str, str] = {}
    if rest.startswith("{") and not rest.startswith("{{"):
        depth_end = None
        in_str, i = None, 1
        while i < len(rest):
            c = rest[i]
            if in_str:
                if c == "\\":
                    i += 2
                    continue
                if c == in_str:
                    in_str = None
            elif c in "\"'":
                in_str = c
            elif c == "}":
                depth_end = i
                break
            i += 1
        if depth_end is None:
            raise Unsupported("unterminated labels")
        body = rest[1:depth_end]
        rest = rest[depth_end + 1:]
        for lm in re.finditer(r'\s*([a-zA-Z_][a-zA-Z0-9_]*|"(?:[^"\\]|\\.)*")\s*=\s*'
                              r'("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')\s*,?', body):
            key = lm.group(1)
            if key.startswith('"'):
                raise Unsupported("quoted label name")
            labels[key] = _unquote(lm.group(2))
        if re.sub(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|'
                  r"'(?:[^'\\]|\\.)*')\s*,?", "", body).strip():
            raise Unsupported("unusual series descriptor")
    elif name is None:
        return None, toks_text
    if name is not None and not rest.strip() and name.lower() in ("nan", "inf"):
        return None, toks_text  # a scalar result written as a number
    if "__name__" in labels:  # {__name__="metric"}: the metric name in braces
        if name is not None:
            raise Unsupported("metric name given twice")
        name = labels.pop("__name__")
    if RESERVED & set(labels):
        raise Unsupported("type and unit labels (__type__, __unit__: a feature flag)")
    if name is not None:
        labels["__name__"] = name
    labels = {k: v for k, v in labels.items() if v != ""}
    return labels, rest


def read_file(path: Path) -> list[Eval]:
    """Every eval of one promqltest file, with the storage it runs against."""
    lines = path.read_text(encoding="utf-8").splitlines()
    storage: list[Series] = []
    data_id = 0
    bad_data: str | None = None
    bad_series: list[tuple[dict, str]] = []  # series a frame cannot hold, and why
    stale_series: list[dict] = []  # series with staleness markers
    evals: list[Eval] = []
    ignoring = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line == "ignore":
            ignoring = True
            continue
        if line == "resume":
            ignoring = False
            continue
        if line == "clear":
            storage, bad_data, bad_series, stale_series = [], None, [], []
            data_id += 1
            continue
        if line.startswith("load"):
            parts = line.split()
            data_id += 1
            block_bad = None
            nhcb = parts[0] == "load_with_nhcb"
            if parts[0] not in ("load", "load_with_nhcb"):
                block_bad = f"{parts[0]} blocks"
            try:
                interval = parse_time_ms(parts[-1])
            except Unsupported:
                interval, block_bad = 0, "load with options"
            while i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith("#") \
                    and lines[i][:1] in (" ", "\t"):
                text = lines[i].strip()
                i += 1
                labels = None
                try:
                    if re.match(r"^[^\s]*@st\s", text):
                        labels = _series_descriptor(text.split("@st")[0])[0] or None
                        raise Unsupported("start timestamps (@st lines)")
                    labels, rest = _series_descriptor(text)
                    if labels is None or "__name__" not in labels:
                        raise Unsupported("series without a metric name")
                    values = expand_values(rest.split(), stale=True)
                    if STALE in values:
                        # range selectors skip staleness markers; instant selectors
                        # do not (see translate)
                        stale_series.append(labels)
                    storage.append(Series(labels, [
                        (k * interval, v) for k, v in enumerate(values)
                        if v is not None and v != STALE]))
                    if nhcb:
                        # load_with_nhcb also stores each classic histogram
                        # (x_bucket, x_count, x_sum) as a native histogram x
                        base = re.sub(r"_(bucket|count|sum)$", "", labels["__name__"])
                        if base != labels["__name__"]:
                            native = {k: v for k, v in labels.items() if k != "le"}
                            native["__name__"] = base
                            bad_series.append(
                                (native, "native histograms (from load_with_nhcb)"))
                except Unsupported as exc:
                    if labels and "__name__" in labels and not block_bad:
                        bad_series.append((labels, str(exc)))
                    else:
                        block_bad = block_bad or str(exc)
            bad_data = bad_data or block_bad
            continue
        m = re.match(r"^(eval(?:_fail|_ordered|_warn|_info)?)\s+(instant|range)\s+(.*)$",
                     line)
        if not m:
            continue
        cmd, kind, rest = m.groups()
        ev = Eval(file=path.name, line=i, expr="", start_ms=0, end_ms=0, step_ms=1,
                  is_range=kind == "range", fail=cmd == "eval_fail",
                  ordered=cmd == "eval_ordered", data=list(storage), data_id=data_id,
                  bad_series=list(bad_series), stale_series=list(stale_series))
        if kind == "instant":
            mm = re.match(r"^at\s+(\S+)\s+(.*)$", rest)
            ev.start_ms = ev.end_ms = parse_time_ms(mm.group(1))
            ev.expr = mm.group(2)
        else:
            mm = re.match(r"^from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.*)$", rest)
            ev.start_ms, ev.end_ms = parse_time_ms(mm.group(1)), parse_time_ms(mm.group(2))
            ev.step_ms = parse_time_ms(mm.group(3))
            ev.expr = mm.group(4)
        # expected results: indented lines until a blank line or a new command
        while i < len(lines) and lines[i][:1] in (" ", "\t") and lines[i].strip():
            text = lines[i].strip()
            i += 1
            if text.startswith("expect"):
                words = text.split()
                if words[1] == "fail":
                    ev.fail = True
                elif words[1] == "ordered":
                    ev.ordered = True
                elif words[1] in ("range", "string"):
                    ev.unsupported = ev.unsupported or f"expect {words[1]}"
                continue
            if text.startswith("#"):
                continue
            try:
                labels, rest = _series_descriptor(text)
                if labels is None:  # a scalar result
                    ev.expected.append((None, expand_values(text.split())))
                else:
                    ev.expected.append((labels, expand_values(rest.split())))
            except Unsupported as exc:
                ev.unsupported = ev.unsupported or f"expected value: {exc}"
        if ignoring:
            ev.unsupported = "between ignore and resume"
        if bad_data and not ev.unsupported:
            ev.unsupported = f"data: {bad_data}"
        evals.append(ev)
    return evals


def read_version(version: str) -> list[Eval]:
    folder = PROMQLTEST / version
    return [ev for path in sorted(folder.glob("*.test")) for ev in read_file(path)]


def almost_equal(a: float, b: float) -> bool:
    """promqltest's comparison: NaN equals NaN, else within a relative 1e-6."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < MIN_NORMAL:
        return diff < EPSILON * MIN_NORMAL
    return diff / (abs(a) + abs(b)) < EPSILON
