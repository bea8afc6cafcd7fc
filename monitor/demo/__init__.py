"""Bundled offline demo feeds for `monitor demo` (package data, no code).

`feeds/<feed-id>.xml` are ten invented feeds (Moroccan and Israeli outlets; Arabic, French,
Hebrew, English; RSS 2.0 and Atom) dated in November 2026; `feeds.yaml` registers them with
URLs of the form ``http://127.0.0.1:{port}/<feed-id>.xml``, the demo command filling in the
port of its loopback server. The stories to look for: a MAP dispatch on a Moroccan–Israeli
drone plant reposted by Hespress, Barlamane and Alnas (Arabic) and by Le360 and Médias24
(French); a TPS story on a Moroccan military delegation reposted by the Times of Israel and
i24NEWS; the same events reported independently in Hebrew (Ynet, Israel Hayom) and English
(Morocco World News); and plenty of news that is not about defence.
"""
