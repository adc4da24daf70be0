"""`python -m activelearn.cli ...`: the same as the `activelearn` command."""

from activelearn.cli import main

main()
