"""Bounded integers for every integer path, query and body parameter of the server and the dashboard.

Every integer column is SQLAlchemy ``Integer``: 32-bit signed on PostgreSQL, 64-bit on SQLite. A larger number
reaching a query raises deep inside the driver (a 500: ``OverflowError`` on SQLite past 2**63, "integer out of
range" on PostgreSQL past 2**31). These types refuse it at the boundary instead: FastAPI answers 422 naming the
parameter and the allowed range, and the OpenAPI schema states the bounds (so property-based tests stay inside).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

#: The largest integer every supported database stores in an ``Integer`` column (PostgreSQL ``integer``).
MAX_DB_INT = 2**31 - 1

#: An id, cursor, offset, count or budget: 0 .. 2**31 - 1.
Count = Annotated[int, Ge(0), Le(MAX_DB_INT)]

__all__ = ["MAX_DB_INT", "Count"]
