# Signal handling goes in before the imports, so Ctrl-C while starting is one line, not a traceback.
from checker.signals import run_entry_point

run_entry_point()
