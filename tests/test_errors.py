from __future__ import annotations

import pytest

from specanalysis import errors


def test_every_error_is_a_specanalysis_error():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.SpecAnalysisError)


def test_message_names_file_line_field_and_expectation():
    err = errors.ParseError(
        "not a number", source="m.txt", line=7, field="value", expected="a float"
    )
    assert str(err) == "m.txt:7: value: not a number (expected a float)"
    assert (err.source, err.line, err.field) == ("m.txt", 7, "value")


def test_prometheus_error_carries_type_and_status():
    err = errors.PrometheusError("boom", error_type="bad_data", status=400)
    assert str(err).startswith("[HTTP 400, bad_data] boom")
    assert err.error_type == "bad_data"


def test_config_error_lists_every_problem():
    err = errors.ConfigError(["a: bad", "b: worse", "c: worst"])
    assert err.problems == ["a: bad", "b: worse", "c: worst"]
    assert str(err).count("\n  - ") == 3


def test_missing_dependency_is_an_import_error():
    with pytest.raises(ImportError):
        raise errors.MissingDependencyError("x")
