"""The connectivity engine: pure functions over the inventory and the cluster view.

Label-selector matching, isolation per direction, port sets per protocol, IP
sets for ipBlock, verdicts with reasons, the matrix, probes and what a change
does to connectivity. It reads nothing and prints nothing: the commands hand it
an inventory, and :mod:`nplint.reporting` turns its results into text.
"""
