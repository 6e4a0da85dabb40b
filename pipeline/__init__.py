"""lägesbild: weekly hotspot maps, situation picture and archive for EST/ESM work."""

__version__ = "0.1.0"
