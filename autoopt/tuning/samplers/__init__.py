"""The samplers behind the tuning strategies (private modules; the public names are in :mod:`autoopt.tuning`).

- :mod:`._strategies`: each :class:`~autoopt.enums.TuningStrategy` mapped onto a sampler (a *plan*);
- :mod:`._portfolio`: :class:`~autoopt.tuning.PortfolioSampler` and the ``ADAPTIVE`` portfolio;
- :mod:`._spsa`: :class:`~autoopt.tuning.SPSASampler` (``GRADIENT_DESCENT``);
- :mod:`._space`: the unit box the samplers of this folder work in.

Every module here imports Optuna; importing this package does not.
"""
