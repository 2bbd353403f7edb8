"""SLA: business calendars, policies, clocks on conversations, and the sweep."""
