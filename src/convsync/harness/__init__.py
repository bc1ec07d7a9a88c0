"""What the demo, the benchmark and the test suite share to run convsync for real on one
machine: child process groups, a throwaway PostgreSQL database, a claimed Redis database.

It ships with the package (like structlog's `testing` helpers) because `convsync demo` and
`convsync bench` are commands of the product; production code (workers, beat) never
imports it.
"""
