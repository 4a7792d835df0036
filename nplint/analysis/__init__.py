"""The connectivity engine: pure functions over the inventory."""
