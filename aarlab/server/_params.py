"""Bounded integers for every integer path, query and body parameter of the server and the dashboard.

SQLite and PostgreSQL store signed 64-bit integers; a larger number reaching a query raises deep inside the
driver (a 500). These types refuse it at the boundary instead: FastAPI answers 422 naming the parameter and the
allowed range, and the OpenAPI schema states the bounds (so property-based tests stay inside them).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)

#: An id, cursor, offset, count or budget: 0 .. 2**63 - 1.
Count = Annotated[int, Ge(0), Le(MAX_INT64)]
#: Any integer a 64-bit database column can hold.
Int64 = Annotated[int, Ge(MIN_INT64), Le(MAX_INT64)]

__all__ = ["MAX_INT64", "MIN_INT64", "Count", "Int64"]
