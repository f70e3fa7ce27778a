"""A leadership coaching assistant that answers from a cited library.

Example:
    >>> from assistant import Coach
    >>> reply = Coach().ask("Am I managing or leading if I review every timesheet?")
    >>> print(reply.text)
"""

from .coach import Coach
from .index import SyncReport
from .memory import Commitment
from .session import Session
from .settings import Settings
from .types import Citation, Diagnosis, Document, Facet, Passage, Reply

__all__ = [
    "Citation",
    "Coach",
    "Commitment",
    "Diagnosis",
    "Document",
    "Facet",
    "Passage",
    "Reply",
    "Session",
    "Settings",
    "SyncReport",
]
