"""Imports every model module so Base.metadata knows all tables (for Alembic and tests)."""

from ledgerdesk.accounts import models as accounts_models
from ledgerdesk.analytics import models as analytics_models
from ledgerdesk.analytics.gaps import models as gaps_models
from ledgerdesk.audit import models as audit_models
from ledgerdesk.automation import models as automation_models
from ledgerdesk.channels.webchat import models as webchat_models
from ledgerdesk.conversations import models as conversations_models
from ledgerdesk.customers import models as customers_models
from ledgerdesk.db.base import Base
from ledgerdesk.feedback import models as feedback_models
from ledgerdesk.jobs import models as jobs_models
from ledgerdesk.knowledge import models as knowledge_models
from ledgerdesk.macros import models as macros_models
from ledgerdesk.realtime import models as realtime_models
from ledgerdesk.routing import models as routing_models
from ledgerdesk.safety import models as safety_models
from ledgerdesk.sla import models as sla_models

__all__ = [
    "Base",
    "accounts_models",
    "analytics_models",
    "audit_models",
    "automation_models",
    "conversations_models",
    "customers_models",
    "feedback_models",
    "gaps_models",
    "jobs_models",
    "knowledge_models",
    "macros_models",
    "realtime_models",
    "routing_models",
    "safety_models",
    "sla_models",
    "webchat_models",
]
