"""SharpEyes patrol: teams, shifts, the site graph, dispatch, escalation, routes, service points.

Pure logic on its own types: no database, no web, no import of `api` or `vision`.
"""
