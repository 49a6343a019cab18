"""`python -m devstream`: the `dtm` command, for environments without its console script on PATH."""

from devstream.cli.main import main

main()
