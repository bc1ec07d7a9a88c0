"""A strict CSV reader: rows it can read unambiguously, or one error naming the lines.

Python's csv module is lenient: a stray quote is kept as text, an unterminated quote
swallows the rows after it, a row with an unquoted comma simply has one more field. A
member import must never guess, so this reader refuses (with line numbers, before
anything is written) a row whose field count differs from the header's, a repeated or
unknown header column, a quote that is never closed, a value over MAX_FIELD_CHARACTERS,
and bytes that are not UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from convsync.domain.errors import ValidationError

# No field of ours is near this (the widest column is 255); a larger value means a
# mangled file (an unclosed quote swallowing the rest), refused rather than read.
MAX_FIELD_CHARACTERS = 10_000
# How many bad lines a one-line error names before "and N more".
SHOWN_ERRORS = 3


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, str]


def refuse(problems: Sequence[str]) -> ValidationError:
    """One line naming the first few problems: "nothing imported: line 3: …; line 7: …"."""
    shown = "; ".join(problems[:SHOWN_ERRORS])
    more = f" (and {len(problems) - SHOWN_ERRORS} more)" if len(problems) > SHOWN_ERRORS else ""
    return ValidationError(f"nothing imported: {shown}{more}")


def decode(data: bytes, source: str) -> str:
    """UTF-8 text (a byte-order mark is dropped), or an error naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValidationError(
            f"nothing imported: {source} is not UTF-8 text (line {line}): save it as UTF-8"
        ) from None


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    # The csv module's limit is process-wide: set for this read, then put back.
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _header(raw: list[str], required: Sequence[str], optional: Sequence[str]) -> list[str]:
    header = [h.strip().lower() for h in raw]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValidationError(
            f"nothing imported: the CSV needs a header row with columns {', '.join(required)} "
            f"(missing: {', '.join(missing)})"
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ValidationError(
            f"nothing imported: line 1: column {repeated[0]!r} appears more than once"
        )
    known = (*required, *optional)
    unknown = [h for h in header if h not in known]
    if unknown:
        raise ValidationError(
            f"nothing imported: line 1: unknown column {unknown[0]!r} "
            f"(the columns are {', '.join(known)})"
        )
    return header


def read_rows(stream: TextIO, required: Sequence[str], optional: Sequence[str]) -> list[Row]:
    """Every data row, keyed by the (lower-cased) header; blank lines are skipped."""
    reader = csv.reader(stream, strict=True)
    rows: list[Row] = []
    problems: list[str] = []
    with _field_limit(MAX_FIELD_CHARACTERS):
        try:
            header = _header(next(reader, []), required, optional)
            start = reader.line_num
            for values in reader:
                line = start + 1
                start = reader.line_num
                if not values:
                    continue
                if len(values) != len(header):
                    problems.append(
                        f"line {line}: {len(values)} fields where the header has {len(header)} "
                        "(quote a value that holds a comma)"
                    )
                elif any("\n" in v or "\r" in v for v in values):
                    problems.append(
                        f"line {line}: a quoted value runs over several lines (a quote not closed?)"
                    )
                else:
                    rows.append(Row(line, dict(zip(header, values, strict=True))))
        except csv.Error as error:
            problems.append(_csv_problem(reader.line_num, str(error)))
    if problems:
        raise refuse(problems)
    return rows


def _csv_problem(line: int, text: str) -> str:
    if "field larger than field limit" in text:
        return f"line {line}: a value is longer than {MAX_FIELD_CHARACTERS:,} characters"
    if "unexpected end of data" in text or "EOF" in text:
        return f"line {line}: a quote is opened and never closed"
    return f"line {line}: {text} (quote values that hold commas or quotes)"
