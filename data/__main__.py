import sys

from privacy_clauses.data.cli import main

sys.exit(main())
