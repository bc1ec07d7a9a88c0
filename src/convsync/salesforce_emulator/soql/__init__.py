"""SOQL for the emulator: a lark grammar, a transformer to a small AST, and an engine.

`parse` turns text into a `Query` (cached); `compile_query` checks it against the
schema and builds Python closures for filtering, ordering and rendering; `execute`
runs it against a `Store`, using the store's indexes where the WHERE clause allows.
"""

from .engine import CompiledQuery, compile_query, execute
from .parser import parse
from .syntax import Query

__all__ = ["CompiledQuery", "Query", "compile_query", "execute", "parse"]
