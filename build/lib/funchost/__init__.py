"""funchost: a functions host written in Python for Azure Functions Python apps."""

__version__ = "0.1.0"
