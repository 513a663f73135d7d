"""The metric vocabulary the promotion policy speaks: which way each metric improves, and how numbers are
written in the reasons people read (events, the ledger, the console).

The rules themselves are policy as code (`policy_doc`, evaluated by `gates`); the default ones are in
`default_policy.toml`.
"""

LOWER_IS_BETTER = frozenset({"rmse", "mse", "mae", "mape", "log_loss", "brier_score", "max_error"})


def lower_is_better(metric: str) -> bool:
    return metric.lower() in LOWER_IS_BETTER


def num(value: float) -> str:
    """Three decimals for ordinary values, significant digits for tiny ones (0.000 would hide them)."""
    if value == 0 or abs(value) >= 0.001:
        return f"{value:.3f}"
    return f"{value:.3g}"
