"""SOQL for the emulator: a lark grammar, a transformer to a small AST, and an engine.

`parse` turns text into a `Query` (cached); `compile_query` checks it against the
schema and builds Python closures for filtering and ordering (`engine`); `execute`
runs it against a `Store`, using the store's indexes where the WHERE clause allows
(`execution`); `rendering` writes rows out as JSON records or Bulk CSV.
"""

from .engine import CompiledQuery, compile_query
from .execution import execute
from .parser import parse
from .syntax import Query

__all__ = ["CompiledQuery", "Query", "compile_query", "execute", "parse"]
