"""Models of the runtime: analytic and fitted (pipeline, latency, rollback, proof cost).

Each model lives in its own module and is imported explicitly, e.g.
``from specanalysis.models import proofcost``; this package imports nothing on
its own, so heavy dependencies (galois, statsmodels) load only when a model is
used.
"""
