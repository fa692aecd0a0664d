"""Models of the speculation pipeline: analytic latency, regressions, proof cost.

Submodules (import them directly; nothing heavy loads here):

* :mod:`specanalysis.models.pipeline` -- analytic latency of any task graph
  (speculative and sequential), speedup, asymptote, floor, crossover;
* :mod:`specanalysis.models.latency` -- latency against depth, fitted with
  statsmodels (OLS, quantile, robust), speedup with an interval;
* :mod:`specanalysis.models.rollback` -- rollbacks against depth (binomial GLM,
  cloglog link), blast radius, expected wasted work, the best depth;
* :mod:`specanalysis.models.proofcost` -- Groth16/STARK operation counts checked
  with galois, per-machine calibration, batching, the proof pool as an M/G/c
  queue and its sizing (:mod:`specanalysis.models.queueing` holds the queues).
"""
