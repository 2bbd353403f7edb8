"""Help-center gaps: the questions the help center did not answer, grouped by meaning.

Customers' questions that the assistant handed off because the help center had
nothing good enough, questions of conversations rated 1 or 2, and "not helpful"
votes on articles are collected with their e5 vectors by a periodic job
(``collect.py``, ``tasks.py``); the page ``/analytics/gaps`` and
``GET /api/v1/analytics/gaps`` cluster the stored vectors of a period
(``cluster.py``), and one click turns a group into a draft article
(``actions.py``). See docs/helpcenter-gaps.md.
"""
