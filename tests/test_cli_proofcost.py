"""``specanalysis proofcost`` and ``proofcost size-pool``.

Truths: the zk-Harness gnark Groth16 BN254 table on AWS m5.2xlarge
(https://github.com/zkCollective/zk-Harness/blob/main/benchmarks/circuits/m5.2xlarge/gnark/groth16_exponentiate.csv:
10,001 constraints 39 ms, 100,001 266 ms, 1,000,001 2034 ms), Groth16's FFT
domain (the next power of two of constraints + public inputs) and transform
count (7 for gnark, 6 for snarkjs), the pool's capacity ``workers x batch /
(overhead + batch x proof time)``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from specanalysis.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def calibration_csv(tmp_path):
    path = tmp_path / "times.csv"
    path.write_text("constraints,seconds\n10001,0.039\n1000001,2.034\n")
    return path


def test_predicts_the_published_middle_size(capsys, calibration_csv):
    code, out, _ = _run(capsys, "proofcost", "--constraints", "100001", "--cores", "8",
                        "--calibrate", str(calibration_csv), "--public", "2",
                        "--b-points", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["domain"] == 2**17
    assert doc["seconds"] == pytest.approx(0.266, rel=0.10)
    assert doc["seconds_low"] is None  # two rows: an exact fit, no interval
    assert [r["count"] for r in doc["operations"] if r["kind"] == "fft"] == [7]


def test_text_output_and_default_calibration(capsys):
    code, out, _ = _run(capsys, "proofcost", "--constraints", "1000000", "--cores", "16",
                        "--prover", "snarkjs")
    assert code == 0
    assert "domain 1,048,576" in out and "x6" in out
    assert "zk-Harness" in out  # says which published table it was calibrated on
    assert "Predicted proof time" in out and "95 % interval" in out


def test_more_cores_predict_faster_with_diminishing_returns(capsys):
    secs = []
    for cores in ("4", "8", "32"):
        code, out, _ = _run(capsys, "proofcost", "--constraints", "500000", "--cores",
                            cores, "--json")
        secs.append(json.loads(out)["seconds"])
    assert secs[0] > secs[1] > secs[2]
    assert secs[1] / secs[2] < 4  # 4x the cores, less than 4x faster


@pytest.mark.parametrize("argv, message", [
    (["proofcost", "--constraints", "0"], "constraints"),
    (["proofcost", "--constraints", "-10"], "constraints"),
    (["proofcost"], "--constraints"),
    (["proofcost", "--constraints", "1000", "--cores", "0"], "cores"),
])
def test_bad_input_exits_2(capsys, argv, message):
    code, _, err = _run(capsys, *argv)
    assert code == 2 and message in err


def test_one_row_calibration_exits_2(capsys, tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("constraints,seconds\n100000,0.3\n")
    code, _, err = _run(capsys, "proofcost", "--constraints", "1000", "--calibrate",
                        str(one))
    assert code == 2 and "one row" in err
    code, out, _ = _run(capsys, "proofcost", "--constraints", "1000", "--calibrate",
                        str(one), "--fixed-cost", "0.001", "--json")
    assert code == 0 and json.loads(out)["fixed_s"] == 0.001


def test_size_pool_on_the_fixture(capsys):
    code, out, _ = _run(capsys, "proofcost", "size-pool", "--fixture", "baseline",
                        "--target-p99", "10", "--cores", "8", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["feasible"] and doc["peak"]["p99_s"] <= 10
    assert doc["peak_rate"] >= doc["rate"] > 0
    s = doc["settings"]
    assert 1 <= s["proof.worker_threads"] <= 8
    assert 100 <= s["proof.queue_size"] <= 10_000
    assert 10_000 <= s["proof.timeout_ms"] <= 600_000
    # the fixture's workload: 2 s per batch + 0.15 s per proof
    b = s["proof.batch_size"]
    capacity = s["proof.worker_threads"] * b / (2.0 + 0.15 * b)
    assert doc["peak"]["utilisation"] == pytest.approx(doc["peak_rate"] / capacity,
                                                       rel=0.1)
    assert doc["guide_queue_size"] > 0
    # the proposal was run in the simulator at the peak before it was shown
    assert doc["simulator_check"]["p99_s"] <= 10
    assert doc["simulator_check"]["proofs"] > 1000


def test_size_pool_without_the_simulator_check(capsys):
    code, out, _ = _run(capsys, "proofcost", "size-pool", "--rate", "0.5", "--peak-rate",
                        "1", "--proof-time", "1", "--target-p99", "10", "--cores", "4",
                        "--no-check", "--json")
    assert code == 0 and json.loads(out)["simulator_check"] is None


def test_size_pool_text_and_unstable(capsys):
    code, out, _ = _run(capsys, "proofcost", "size-pool", "--rate", "2", "--peak-rate",
                        "30", "--proof-time", "1", "--target-p99", "5", "--cores", "4")
    assert code == 1
    assert "unstable: utilisation 7.50 at the peak rate" in out
    assert "MISSES" in out


def test_size_pool_with_a_circuit(capsys):
    code, out, _ = _run(capsys, "proofcost", "size-pool", "--rate", "0.3",
                        "--peak-rate", "0.8", "--constraints", "1000000", "--cores", "32",
                        "--target-p99", "60", "--batch-sizes", "1,2")
    assert code == 0, out
    assert "meets the target" in out and "guide formula" in out


def test_size_pool_needs_a_rate(capsys):
    code, _, err = _run(capsys, "proofcost", "size-pool", "--target-p99", "5",
                        "--proof-time", "1")
    assert code == 2 and "rate" in err


def test_help_teaches():
    out = subprocess.run([sys.executable, "-m", "specanalysis", "proofcost", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "examples:" in out and "size-pool" in out and "constraints,seconds" in out
    out = subprocess.run([sys.executable, "-m", "specanalysis", "proofcost", "size-pool",
                          "--help"], capture_output=True, text=True, check=True).stdout
    assert "--target-p99" in out and "queue_size = peak_rate x avg_proof_s x 3" in out
