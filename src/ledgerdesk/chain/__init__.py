"""Blockchain look-ups: where a customer's transaction is and what it did (docs/chain.md).

``interface`` holds the types every network answers with; ``evm`` and ``esplora`` the two
clients; ``service`` the configured networks for an install; ``deposit`` the pure "where
is my deposit" verdict; ``deposit_text`` its words for the console and the web chat
assistant; ``api`` the agents' HTTP route.
"""
