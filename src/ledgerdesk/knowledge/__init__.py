"""The knowledge base: articles in any language, their history and votes, the help center."""
