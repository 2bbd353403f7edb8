"""The audit log of agent actions, including who looked at which customer's data."""
