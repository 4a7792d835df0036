"""An example nplint plugin: every NetworkPolicy must name its owning team."""
