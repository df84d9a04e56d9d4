"""Both test suites import this project's programs from files/: the update app's
package dyndns_update and the client script dyndns_client."""

import sys
from pathlib import Path

FILES = Path(__file__).resolve().parents[1] / "files"
for path in (FILES, FILES / "dyndns_client"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
