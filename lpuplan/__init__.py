"""lpuplan: dimensioning and facility planning for Groq LPU inference.

The application shell: CLI, project-file loading, the ``plan`` pipeline and
report rendering. Every command is a thin wrapper over a library function.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
