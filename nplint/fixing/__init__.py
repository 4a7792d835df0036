"""``--fix``: the writer that lands a finding's fixes in the user's file (:mod:`nplint.fixing.writer`).

Nothing here is imported unless fixes are asked for: ruamel.yaml, which the
writer needs, is loaded only by ``--fix`` and ``--diff``.
"""
