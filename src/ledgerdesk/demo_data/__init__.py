"""Scripted demo content for ``ledgerdesk demo`` (see ``ledgerdesk.demo``)."""
