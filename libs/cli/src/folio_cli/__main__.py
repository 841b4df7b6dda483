"""``python -m folio_cli``."""

import sys

from folio_cli.main import main

sys.exit(main())
