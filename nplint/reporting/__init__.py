"""Output formats: one module per format, each registered through the reporter hook."""
