"""ledgerdesk: customer support for crypto exchanges, wallets and blockchain platforms."""

__version__ = "0.1.0"
