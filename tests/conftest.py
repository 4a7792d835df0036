from __future__ import annotations

import os
import tempfile

# Tests never pick up plugins installed in the environment; the plugin test
# turns autoload back on for itself.
os.environ["NPLINT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
os.environ.pop("NO_COLOR", None)
os.environ.pop("GITHUB_ACTIONS", None)
# The render cache's key lives in the user's cache directory: tests use one of their own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nplint-test-cache-")
