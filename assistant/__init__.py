"""A leadership coaching assistant that answers from a cited library.

Example:
    >>> from assistant import Coach
    >>> reply = Coach().ask("Am I managing or leading if I review every timesheet?")
    >>> print(reply.text)
"""

from .coach import Coach
from .settings import Settings
from .types import Citation, Diagnosis, Facet, Reply

__all__ = ["Citation", "Coach", "Diagnosis", "Facet", "Reply", "Settings"]
