"""`convsync bench`: the sync's speed and API cost against real services, with its floor.

A product of its own beside the CLI: `runner` starts the services and runs the
scenarios, `scenarios` holds what each one does and its floor, `services` brings up
PostgreSQL, Redis, the emulator and worker processes. It needs the `emulator` extra.
"""
