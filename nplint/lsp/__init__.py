"""``nplint server``: the language server (pygls is imported only in this package)."""
