"""LLM gateway and governance workbench.

The engine (providers, log store, pricing, config) has no Ray import; the Ray Serve
layer lives in the top-level ``serve`` package.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
