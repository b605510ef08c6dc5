"""`python -m bot.cli`: the same entry point as the `wabot` command, without importing a module twice."""
import sys

from bot.cli.main import main

sys.exit(main())
