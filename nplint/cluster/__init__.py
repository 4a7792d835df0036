"""What the repository says about the cluster it runs in: the CNI, its profile, and address ranges.

Detection reads the inventory and the configuration's ``cni`` and ``cluster``
facts; the engine and the rules read the results, and decide none of it
themselves.
"""
