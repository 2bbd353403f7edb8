"""Database infrastructure: declarative base, engine factory, unit of work."""

from ledgerdesk.db.base import Base
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork

__all__ = ["Base", "Database", "UnitOfWork"]
