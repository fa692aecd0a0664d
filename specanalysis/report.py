"""The guide's Tuning Change Report, rendered from a :class:`~specanalysis.compare.Comparison`.

:func:`tuning_report` fills the template of the tuning guide's "Before/After
Comparison Template" section by section from data: the change summary (from the
configuration diff), the before and after tables with their sources, change
with interval and better/worse per metric, positive and negative impacts, the
net assessment with the rigour checks, the rollback plan with the
configuration diff, and the recommendation. Markdown and HTML; the HTML embeds
its figure as inline SVG (no scripts, no network). Every string passes
:func:`mask_secrets`, so a bearer token, a password in a URL or the
``SPECANALYSIS_PROMETHEUS_TOKEN`` value never appears in a report.

Examples
--------
>>> from specanalysis.compare import compare
>>> from specanalysis.fixtures import fixtures_dir
>>> c = compare(fixtures_dir() / "bench" / "baseline",
...             fixtures_dir() / "bench" / "after-max-depth-3",
...             metrics=["memory_avg_mb", "rollback_rate_pct"])
>>> r = tuning_report(c, date="2025-02-01", change_id="TUNE-042")
>>> print(r.markdown.splitlines()[0])
# Speculation Tuning Report
>>> "**Parameter Changed:** speculation.max_depth" in r.markdown
True
"""

from __future__ import annotations

import html as _html
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis.errors import DataError

__all__ = ["TuningReport", "tuning_report", "mask_secrets", "report_svg"]

_TOKEN_ENV = "SPECANALYSIS_PROMETHEUS_TOKEN"
_BEARER = re.compile(r"(?i)\b(bearer)\s+(?!\$ADMIN_TOKEN\b)[A-Za-z0-9._~+/=-]{4,}")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+):[^@/\s]+@")
_QUERY_SECRET = re.compile(r"(?i)\b(token|access_token|api_key|apikey|password|secret)"
                           r"=([^&\s\"']+)")


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``***``.

    Applies the package's masking function (:func:`specanalysis._secrets.mask`:
    every registered credential and long fragments of one), then masks
    ``Bearer <token>`` (the report's own ``$ADMIN_TOKEN`` placeholder is kept),
    passwords in URLs, ``token=``/``password=``-style parameters, every string
    in ``secrets`` and the value of ``$SPECANALYSIS_PROMETHEUS_TOKEN``.

    Examples
    --------
    >>> mask_secrets("curl -H 'Authorization: Bearer abc123def' http://u:pw@h/?token=x1")
    "curl -H 'Authorization: Bearer ***' http://u:***@h/?token=***"
    """
    from specanalysis._secrets import mask

    out = mask(str(text))
    known = [s for s in (*secrets, os.environ.get(_TOKEN_ENV, "")) if s and len(s) >= 3]
    for s in sorted(known, key=len, reverse=True):
        out = out.replace(s, "***")
    out = _BEARER.sub(lambda m: f"{m.group(1)} ***", out)
    out = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:***@", out)
    out = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", out)
    return out


@dataclass(frozen=True)
class TuningReport:
    """A rendered Tuning Change Report (``markdown`` and ``html`` text)."""

    markdown: str
    html: str
    overall: str
    recommendation: str

    def write(self, path: str | Path) -> Path:
        """Write Markdown (``.md``) or HTML (``.html``/``.htm``); returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".md", ".markdown"):
            text = self.markdown
        elif suffix in (".html", ".htm"):
            text = self.html
        else:
            raise DataError(f"unknown report format {suffix or '(none)'!r}",
                            source=str(path), field="--report",
                            expected="a file ending in .md or .html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def summary(self) -> str:
        """The net assessment and recommendation in two lines."""
        return f"Net assessment: {self.overall.upper()}\nRecommendation: {self.recommendation}"

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"TuningReport(overall={self.overall!r}, {len(self.markdown)} chars)"


# ------------------------------------------------------------------ formatting


def _num(x: Any) -> str:
    from specanalysis.compare import _num as num

    text = num(x)
    return {"-": "n/a", "inf": "∞", "-inf": "-∞"}.get(text, text)


def _name(r: Mapping[str, Any]) -> str:
    """The figure's label, with its key when that says more (``test/figure``)."""
    label = r["label"] or r["metric"]
    return label if r["metric"] == r["figure"] else f"{label} ({r['metric']})"


def _value(r: Mapping[str, Any], side: str) -> str:
    v, lo, hi = r[side], r[f"{side}_lo"], r[f"{side}_hi"]
    unit = f" {r['unit']}" if r["unit"] else ""
    text = f"{_num(v)}{unit}"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{_num(lo)}, {_num(hi)}]"
    return text


def _change(r: Mapping[str, Any]) -> str:
    c = r["change_pct"]
    if c is None or math.isnan(c):
        return "n/a"
    lo, hi = r["change_lo_pct"], r["change_hi_pct"]
    text = f"{c:+.1f}%"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        fmt = (lambda v: "∞" if math.isinf(v) else f"{v:+.1f}%")  # noqa: E731
        text += f" [{fmt(lo)}, {fmt(hi)}]"
    return text


_WORDS = {"improved": "Better", "regressed": "Worse", "equivalent": "No change",
          "inconclusive": "Not established", "changed": "Changed (no direction)"}


def _better_worse(r: Mapping[str, Any]) -> str:
    word = _WORDS.get(r["verdict"], r["verdict"])
    if r["verdict"] in ("improved", "regressed", "changed") and r["p_adjusted"] is not None:
        return f"{word} (p={r['p_adjusted']:.2g})"
    if r["verdict"] == "equivalent":
        return f"{word} (within ±{r['tolerance_pct']:.0f}%)"
    return word


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


_NET = {"improved": "POSITIVE", "regressed": "NEGATIVE", "mixed": "MIXED",
        "equivalent": "NEUTRAL", "inconclusive": "INCONCLUSIVE"}


def _recommendation(comparison: Any, failed: list[str]) -> str:
    t = comparison.metrics
    needed = [r for r in t.iter_rows(named=True)
              if r["verdict"] == "inconclusive" and r["needed"]]
    more = ""
    if needed:
        worst = max(needed, key=lambda r: r["n_needed"] or 0)
        more = f" (e.g. {worst['metric']}: {worst['needed']})"
    if failed:
        return ("Re-run the comparison: the rigour checks failed ("
                + ", ".join(failed) + "), so the verdicts cannot be relied on.")
    return {
        "improved": "Keep the change. Monitor for 1 week to confirm stability.",
        "regressed": "Roll back the change (see the rollback plan).",
        "mixed": ("Decide on the trade-off: keep the change only if the improvements "
                  "outweigh the regressions listed above; otherwise roll back."),
        "equivalent": ("No measurable effect within the tolerances: keep the change "
                       "only for reasons outside these metrics."),
        "inconclusive": ("Not decided yet: collect more data before judging" + more
                         + "."),
    }.get(comparison.overall, "Review the table above.")


# ------------------------------------------------------------------------ SVG


def report_svg(comparison: Any, *, width: int = 720) -> str:
    """Change per metric with its interval and tolerance band, as inline SVG.

    Built from :meth:`Comparison.compare_frame`; the x axis is the change in %
    (clipped to ±100 %), the grey band the tolerance, colours the verdicts.
    """
    f = comparison.compare_frame()
    rows = f.rows(named=True)
    row_h, left, right, top = 22, 260, 20, 30
    height = top + row_h * max(len(rows), 1) + 30
    lim = 5.0
    for r in rows:
        for k in ("change_pct", "change_lo_pct", "change_hi_pct", "tolerance_pct"):
            v = r[k]
            if v is not None and math.isfinite(v):
                lim = max(lim, min(abs(v), 100.0))
    lim *= 1.1
    plot_w = width - left - right

    def x(v: float) -> float:
        v = max(-lim, min(lim, v))
        return left + (v + lim) / (2 * lim) * plot_w

    e = _html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" font-family="sans-serif" font-size="12" '
             'role="img" aria-label="change per metric with intervals">',
             f'<text x="{left}" y="16">change after vs before (%), interval and '
             'tolerance (grey)</text>',
             f'<line x1="{x(0):.1f}" y1="{top - 5}" x2="{x(0):.1f}" '
             f'y2="{height - 25}" stroke="#888"/>']
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        tol = r["tolerance_pct"] or 0.0
        parts.append(f'<rect x="{x(-tol):.1f}" y="{y - 7:.1f}" '
                     f'width="{x(tol) - x(-tol):.1f}" height="14" fill="#eee"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{e(r["metric"][:38])}</text>')
        c, lo, hi = r["change_pct"], r["change_lo_pct"], r["change_hi_pct"]
        colour = r["colour"]
        if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
            parts.append(f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" '
                         f'y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>')
        if c is not None and not math.isnan(c):
            parts.append(f'<circle cx="{x(c):.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                         f'<title>{e(r["metric"])}: {c:+.1f}% ({e(r["verdict"])})'
                         '</title></circle>')
    for v in (-lim / 1.1, 0.0, lim / 1.1):
        parts.append(f'<text x="{x(v):.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{v:+.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------- report


def _diff_rows(comparison: Any, before_config: Any, after_config: Any) -> pl.DataFrame:
    from specanalysis.compare import _cfg_dict, _config_diff

    if before_config is not None and after_config is not None:
        return _config_diff(_cfg_dict(before_config), _cfg_dict(after_config))
    if comparison.config_diff is not None:
        return comparison.config_diff
    return pl.DataFrame(schema={"parameter": pl.String, "before": pl.String,
                                "after": pl.String})


def _json_value(text: str) -> str:
    if text in ("true", "false") or re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def tuning_report(
    comparison: Any,
    before_config: Any = None,
    after_config: Any = None,
    *,
    reason: str | None = None,
    change_id: str = "TUNE-XXX",
    author: str = "[Name]",
    date: str | None = None,
    admin_url: str = "http://localhost:9090",
    secrets: Iterable[str] = (),
) -> TuningReport:
    """Render the guide's Tuning Change Report for ``comparison``.

    Parameters
    ----------
    comparison
        A :class:`~specanalysis.compare.Comparison`.
    before_config, after_config
        The two configurations (``SpeculationConfig``, mapping or TOML path);
        default: the diff the comparison found (benchmark runs carry theirs).
    reason
        "Reason for Change" (default: a sentence naming the measured figures).
    change_id, author, date
        Header fields (``date`` defaults to today, UTC).
    admin_url
        Where the rollback command posts the old values. The command uses the
        placeholder ``$ADMIN_TOKEN``; no credential is ever written.
    secrets
        Further strings to mask (e.g. a token used to fetch the data).

    Returns
    -------
    TuningReport
    """
    from specanalysis.compare import Comparison

    if not isinstance(comparison, Comparison):
        raise DataError(f"got {type(comparison).__name__}", field="comparison",
                        expected="a Comparison from specanalysis.compare.compare")
    date = date or datetime.now(timezone.utc).strftime("%Y-%m-%d")
    diff = _diff_rows(comparison, before_config, after_config)
    t = comparison.metrics
    rows = list(t.iter_rows(named=True))
    failed = comparison.checks.filter(pl.col("status") == "fail")["check"].to_list()
    net = _NET.get(comparison.overall, comparison.overall.upper())
    recommendation = _recommendation(comparison, failed)
    params = diff["parameter"].to_list()
    prev = ", ".join(diff["before"].to_list()) or "(unchanged)"
    new = ", ".join(diff["after"].to_list()) or "(unchanged)"
    improved = [r for r in rows if r["verdict"] == "improved"]
    regressed = [r for r in rows if r["verdict"] == "regressed"]
    open_ = [r for r in rows if r["verdict"] == "inconclusive"]
    equal = [r for r in rows if r["verdict"] == "equivalent"]
    reason = reason or (f"judge the change on {len(rows)} measured figures "
                        f"({comparison.kind})")
    src_b, src_a = comparison.sources

    md: list[str] = [
        "# Speculation Tuning Report", "",
        f"**Date:** {date}  ", f"**Author:** {author}  ", f"**Change ID:** {change_id}",
        "", "---", "", "## Change Summary", "",
        f"**Parameter Changed:** {', '.join(params) or '(no configuration difference found)'}  ",
        f"**Previous Value:** {prev}  ", f"**New Value:** {new}  ",
        f"**Reason for Change:** {reason}", "", "---", "",
        "## Baseline Metrics (Before)", "",
        _md_table(["Metric", "Value", "Source"],
                  [[_name(r), _value(r, "before"),
                    f"{src_b}; {r['method']}"] for r in rows]),
        "", "Intervals: medians with order-statistic intervals (runs), means of "
        "blocks (windows), bucket bounds (histogram quantiles).", "", "---", "",
        "## Post-Change Metrics (After)", "",
        _md_table(["Metric", "Value", "Change", "Better/Worse"],
                  [[_name(r), _value(r, "after"), _change(r),
                    _better_worse(r)] for r in rows]),
        "", f"Source: {src_a}. Change: after/before - 1 with its "
        f"{100 * comparison.confidence:.0f}% interval; p-values Holm-adjusted.",
        "", "---", "", "## Analysis", "", "### Positive Impacts", "",
    ]
    md += [f"- {_name(r)}: {_change(r)} ({_better_worse(r)})"
           for r in improved] or ["- none established"]
    md += ["", "### Negative Impacts", ""]
    md += [f"- {_name(r)}: {_change(r)} ({_better_worse(r)})"
           for r in regressed] or ["- none established"]
    md += ["", "### No measurable change", ""]
    md += [f"- {_name(r)}: {r['reason']}" for r in equal] or ["- none"]
    md += ["", "### Not established", ""]
    md += [f"- {_name(r)}: {r['reason']}" for r in open_] or ["- none"]
    md += ["", "### Net Assessment", "",
           f"**{net}** - {comparison.overall_reason}.", "", "Rigour checks (the "
           "guide's statistical significance rules):", ""]
    md += [f"- **{r['status']}** {r['check']}: {r['detail']}"
           for r in comparison.checks.iter_rows(named=True)]
    md += ["", "---", "", "## Rollback Plan", ""]
    if diff.height:
        md += ["If negative impacts are unacceptable, restore the previous values:", "",
               _md_table(["Parameter", "Before (restore)", "After (current)"],
                         [list(r) for r in diff.iter_rows()]), "", "```bash"]
        payload = ", ".join(f'"{p}": {_json_value(b)}' for p, b, _ in diff.iter_rows())
        md += [f"curl -X POST {admin_url}/admin/config \\",
               '  -H "Authorization: Bearer $ADMIN_TOKEN" \\',
               f"  -d '{{{payload}}}'", "```", "", "Or in the TOML file:", "", "```toml"]
        md += [f"{p.removeprefix('speculation.')} = {_json_value(b)}  # was {a}"
               for p, b, a in diff.iter_rows()]
        md += ["```"]
    else:
        md += ["No configuration difference was found: nothing to roll back."]
    md += ["", "---", "", "## Recommendation", "", f"**{recommendation}**", "",
           "---", "", "## Appendix", "", "### Method", "",
           "- Runs: median with a distribution-free interval, ratio by Hodges-Lehmann "
           "on logs, exact Mann-Whitney (benchstat's test), Holm per benchmark test.",
           "- Windows: block means (blocks >= the PromQL range and 5 autocorrelation "
           "times), Welch's t on blocks, HAC cross-check; counts by exact Poisson "
           "tests; histogram quantiles within bucket bounds are never called a change.",
           "- Equivalent: the 90% interval of the change lies within the tolerance.",
           "- Inconclusive: with the minimum detectable change and the data that "
           "would resolve it."]
    if comparison.notes:
        md += ["", "### Notes", ""] + [f"- {n}" for n in comparison.notes]
    md += ["", "### Raw data", "", f"- before: {src_b}", f"- after: {src_a}", ""]
    markdown = mask_secrets("\n".join(md), secrets)
    html = mask_secrets(_to_html(markdown, report_svg(comparison), comparison), secrets)
    return TuningReport(markdown=markdown, html=html, overall=net,
                        recommendation=recommendation)


# ---------------------------------------------------------------- HTML output


def _inline(text: str) -> str:
    out = _html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def _to_html(markdown: str, svg: str, comparison: Any) -> str:
    """A small Markdown-to-HTML rendering of the report (its own subset only)."""
    from specanalysis.compare import COLOURS

    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            block = []
            while j < len(lines) and not lines[j].startswith("```"):
                block.append(lines[j])
                j += 1
            body.append("<pre><code>" + _html.escape("\n".join(block)) + "</code></pre>")
            i = j + 1
            continue
        if line.startswith("|"):
            table = []
            while i < len(lines) and lines[i].startswith("|"):
                table.append(lines[i])
                i += 1
            cells = [re.split(r"(?<!\\)\|", r.strip().strip("|")) for r in table]
            head, rows = cells[0], cells[2:]
            html_rows = []
            for row in rows:
                tds = []
                for c in row:
                    c = c.strip().replace("\\|", "|")
                    style = ""
                    for verdict, word in _WORDS.items():
                        if c.startswith(word):
                            style = f" style='color:{COLOURS[verdict]};font-weight:bold'"
                    tds.append(f"<td{style}>{_inline(c)}</td>")
                html_rows.append("<tr>" + "".join(tds) + "</tr>")
            body.append("<table><thead><tr>" + "".join(
                f"<th>{_inline(h.strip())}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join(html_rows) + "</tbody></table>")
            continue
        if line.startswith("## Analysis"):
            body.append("<h2>Analysis</h2><figure>" + svg + "</figure>")
        elif line.startswith("### "):
            body.append(f"<h3>{_inline(line[4:])}</h3>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip() == "---":
            body.append("<hr/>")
        elif line.strip():
            body.append(f"<p>{_inline(line.rstrip())}</p>")
        i += 1
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
             "pre{background:#f6f8fa;padding:8px}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<title>Speculation Tuning Report</title>"
            f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n")
