from __future__ import annotations

import os

# Tests never pick up plugins installed in the environment; the plugin test
# turns autoload back on for itself.
os.environ["NPLINT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
os.environ.pop("NO_COLOR", None)
os.environ.pop("GITHUB_ACTIONS", None)
