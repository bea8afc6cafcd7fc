"""Bundled offline demo feeds for `monitor demo`, and the loopback server that serves them.

`feeds/<feed-id>.xml` are ten invented feeds (Moroccan and Israeli outlets; Arabic, French,
Hebrew, English; RSS 2.0 and Atom) written with dates in November 2026, which `server` moves
so that the newest is minutes old; `feeds.yaml` registers them (and one feed that answers
404) with URLs of the form ``http://127.0.0.1:{port}/<feed-id>.xml``, the demo command filling
in the port of its loopback server. The stories to look for: a MAP dispatch on a Moroccan–Israeli
drone plant reposted by Hespress, Barlamane and Alnas (Arabic) and by Le360 and Médias24
(French); a TPS story on a Moroccan military delegation reposted by the Times of Israel and
i24NEWS; the same events reported independently in Hebrew (Ynet, Israel Hayom) and English
(Morocco World News); and plenty of news that is not about defence.
"""
