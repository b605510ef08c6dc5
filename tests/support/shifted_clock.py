"""`python -m tests.support.shifted_clock SECONDS ARGS...`: `wabot ARGS` whose clock reads SECONDS ahead.

For a process restarted after a crash that must see the dead process's leases as expired (the
inbound lease is 60 s, bot/conversation/intake.py DEFAULT_LEASE; the outbox lease 120 s,
bot/pipeline/sender.py SEND_LEASE) without a test sleeping through them: to this process it is
simply that much later. Nothing else changes: the product reads the clock only through
`bot.core.times.utcnow` (its modules import that function by name, so it is replaced here
before any of them is imported), and everything it compares with the clock (leases, not_before,
windows) is stored as a time, so the restarted process behaves as it would after the wait.
"""
from __future__ import annotations

import sys
from datetime import timedelta

from bot.core import times

if __name__ == "__main__":
    shift = timedelta(seconds=float(sys.argv[1]))
    real = times.utcnow
    times.utcnow = lambda: real() + shift

    from bot.cli.main import main  # imported after the clock is shifted: everything below sees it

    sys.exit(main(sys.argv[2:]))
