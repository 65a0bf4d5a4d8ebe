"""`python -m churnops` runs the command line."""

from churnops.cli import main

main()
