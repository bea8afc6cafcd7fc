"""`monitor browse`: a read-only web view over the database, served by Datasette on loopback.

Datasette (a well-kept, widely used SQLite explorer) gives faceted browsing, canned
queries, CSV/JSON export and a SQL box for free; this package only configures it:
`metadata.py` (view descriptions, facets, canned queries), `plugin.py` (our query language
in the search box, links, right-to-left text), `snapshot.py` (PostgreSQL: a read-only
SQLite copy, since Datasette reads SQLite only) and `server.py` (the loopback server).
"""
