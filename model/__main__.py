"""`python -m privacy_clauses.model`, the same as `privacy-clauses classify`."""
import sys

from privacy_clauses.model.cli import main

sys.exit(main())
