import sys

from privacy_clauses.train.cli import main

sys.exit(main())
