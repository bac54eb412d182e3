"""Write the example's feature data: `customer_stats.parquet`, one row per customer and day.

    python generate_data.py OUT_DIR [--customers 100] [--days 3]

Values are a pure function of (customer_id, day), so tests can compute what the online
store must return for a customer: see `expected_features`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIRST_CUSTOMER = 1001


def expected_features(customer_id: int, day: int) -> dict[str, float | int]:
    """The feature values of `customer_id` on day `day` (0 = the oldest)."""
    return {
        "tenure_months": customer_id % 72 + day,
        "monthly_charges": round(20.0 + (customer_id % 50) * 1.5 + day * 0.25, 2),
        "support_calls_30d": (customer_id * 7 + day) % 5,
    }


def write(out: Path, customers: int = 100, days: int = 3, now: datetime | None = None) -> Path:
    """Write `out/customer_stats.parquet`; the newest rows are one hour before `now`."""
    import pandas as pd

    newest = (now or datetime.now(UTC)) - timedelta(hours=1)
    rows = []
    for day in range(days):
        stamp = newest - timedelta(days=days - 1 - day)
        for customer_id in range(FIRST_CUSTOMER, FIRST_CUSTOMER + customers):
            row = {"customer_id": customer_id, "event_timestamp": stamp, "created": stamp}
            rows.append(row | expected_features(customer_id, day))
    frame = pd.DataFrame(rows).astype({"monthly_charges": "float32"})
    out.mkdir(parents=True, exist_ok=True)
    path = out / "customer_stats.parquet"
    frame.to_parquet(path, index=False)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    print(write(args.out, args.customers, args.days))
