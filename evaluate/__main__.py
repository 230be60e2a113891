"""`python -m privacy_clauses.evaluate`, the same as `privacy-clauses evaluate`."""
import sys

from privacy_clauses.evaluate.cli import main

sys.exit(main())
