"""Where the Railway CLI looks first: ``.railway/railway.py`` from the repository root.

The project itself is declared in deploy/railway/railway.py, beside its Dockerfiles; this
file loads it so ``railway config plan`` works without ``--file``. The environment comes
from ``FOLIO_RAILWAY_ENVIRONMENT`` (see that file's docstring).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_IAC = Path(__file__).resolve().parents[1] / "deploy" / "railway" / "railway.py"
_spec = importlib.util.spec_from_file_location("folio_railway", _IAC)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

#: The function the CLI calls with no argument.
main = _module.main
