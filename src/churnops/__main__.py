"""`python -m churnops` runs the command line."""

from churnops.entry import main

main()
